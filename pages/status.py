"""Installation: the encoders (PLMs), generators, datasets and artifacts this machine has."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from xqg_core.explore.status import collect_status


@st.cache_data(ttl=60)
def load_status(data_dir: str | None) -> dict:
    return collect_status(data_dir).to_dict()


st.title("Installation")

# the data directory comes from the server's environment only: a URL never names a server path
status = load_status(None)

st.caption(f"Data directory: {status['data_dir'] or 'not found - start the app with XQG_DATA_DIR=DIR streamlit run app.py'}")

st.subheader("Encoders (PLMs)")
# the key columns first (whether each thing is here), long descriptions last: a 1440 px screen shows them
encoders = pd.DataFrame(status["encoders"])[["name", "available", "note", "description"]].rename(columns=str.capitalize)
encoders["Available"] = encoders["Available"].map({True: "yes", False: "no"})
st.dataframe(encoders, hide_index=True, width="stretch")

st.subheader("Query generators")
generators = pd.DataFrame(status["generators"]).rename(columns=str.capitalize)
generators["Available"] = generators["Available"].map({True: "yes", False: "no"})
st.dataframe(generators, hide_index=True, width="stretch")

st.subheader("Datasets")
# what a user looks for first (is it here, what is wrong, where it comes from) in view at 1440 px;
# the long lists and descriptions after them, the name pinned when the table scrolls
datasets = pd.DataFrame(status["datasets"])[["name", "found", "note", "official", "license", "missing", "description"]]
datasets["missing"] = datasets["missing"].map(lambda m: ", ".join(m) if m else "")
datasets["found"] = datasets["found"].map({True: "yes", False: "no"})
st.dataframe(datasets.rename(columns=str.capitalize), hide_index=True, width="stretch",
             column_config={"Name": st.column_config.TextColumn(width="medium", pinned=True),
                            "Found": st.column_config.TextColumn(width="small"),
                            "Note": st.column_config.TextColumn(width="medium"),
                            "Official": st.column_config.TextColumn("Source", width="medium"),
                            "License": st.column_config.TextColumn(width="small")})

st.subheader("Precomputed artifacts")
if status["artifacts"]:
    st.write(f"`{status['artifacts_dir']}` holds: " + ", ".join(f"`{a}`" for a in status["artifacts"]))
else:
    st.info("No precomputed study in cached_artifacts/; build it with "
            "`python -m xqg_core precompute --config configs/default.yaml`.")
