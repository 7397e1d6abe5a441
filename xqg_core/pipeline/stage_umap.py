"""Stage ``umap``: 2-D projections of passages before and after augmentation.

Reads ``index-{plm}-xquad-xr`` and the encode shards' generated-query embeddings of every
PLM; writes ``umap.parquet`` (:func:`xqg_core.study.projection.umap_points`).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xqg_core.paths import slug
from xqg_core.pipeline.runner import StageResult
from xqg_core.pipeline.stage_encode import generated_embeddings

if TYPE_CHECKING:
    from xqg_core.pipeline.context import Pipeline


def run(pipe: Pipeline) -> StageResult:
    cfg = pipe.cfg
    inputs = {"index": {plm: pipe.stage_fp(f"index-{slug(plm)}-xquad-xr") for plm in cfg.encoders},
              "umap": asdict(cfg.umap)}

    def fn(out: Path, _: Path) -> None:
        import pandas as pd

        from xqg_core.study.projection import umap_points

        frames = []
        for plm in cfg.encoders:
            index = pipe.out(f"index-{slug(plm)}-xquad-xr")
            frames.append(umap_points(plm, np.load(index / "P.npy"), np.load(index / "S.npy"),
                                      *generated_embeddings(pipe, plm, "xquad-xr"), cfg.generation_langs, cfg.umap))
        pd.concat(frames).to_parquet(out / "umap.parquet", index=False)

    return pipe.run_stage("umap", inputs, fn)
