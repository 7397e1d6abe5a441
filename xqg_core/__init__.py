"""xQG Explorer engine: encoders, datasets, the xQG augmentation, search and metrics.

Knows nothing of Streamlit; the dashboard (``app.py``, ``pages/``) reads what it writes.
"""
__version__ = "0.1.0"
