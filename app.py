"""xQG Explorer - overview.

Until the precomputed study ships, this page reports what this installation has: the
encoders (PLMs), the datasets in the data directory and the artifacts present.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from xqg_core.status import collect_status

st.set_page_config(page_title="xQG Explorer", layout="wide")


@st.cache_data(ttl=60)
def load_status(data_dir: str | None) -> dict:
    return collect_status(data_dir).to_dict()


st.title("xQG Explorer")
st.markdown(
    "Does augmenting passage embeddings with cross-lingually **generated queries** "
    "(xQG, Zhuang et al., SIGIR 2023) make cross-lingual dense retrieval better, and more "
    "robust to adversarial near-duplicates (PAWS-X)? The paper's formula: "
)
st.latex(r"p' = (1-\alpha)\,p + \alpha \sum_{\ell}\sum_{i<n} E_q(q_{p,\ell,i})")

data_dir = st.query_params.get("data_dir")
status = load_status(data_dir)

st.header("Installation status")
st.caption(f"Data directory: {status['data_dir'] or 'not found - set XQG_DATA_DIR or pass data_dir in the URL'}")

st.subheader("Encoders (PLMs)")
encoders = pd.DataFrame(status["encoders"]).rename(columns=str.capitalize)
encoders["Available"] = encoders["Available"].map({True: "yes", False: "no"})
st.dataframe(encoders, hide_index=True, width="stretch")

st.subheader("Query generators")
generators = pd.DataFrame(status["generators"]).rename(columns=str.capitalize)
generators["Available"] = generators["Available"].map({True: "yes", False: "no"})
st.dataframe(generators, hide_index=True, width="stretch")

st.subheader("Datasets")
datasets = pd.DataFrame(status["datasets"])
datasets["missing"] = datasets["missing"].map(lambda m: ", ".join(m) if m else "")
datasets["found"] = datasets["found"].map({True: "yes", False: "no"})
st.dataframe(datasets.rename(columns=str.capitalize), hide_index=True, width="stretch")

st.subheader("Precomputed artifacts")
if status["artifacts"]:
    st.write(f"`{status['artifacts_dir']}` holds: " + ", ".join(f"`{a}`" for a in status["artifacts"]))
else:
    st.info(
        "No precomputed study in cached_artifacts/ yet. The results explorer, robustness, "
        "embedding-shift and live-search pages appear once it is built."
    )
