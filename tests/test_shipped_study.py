"""Checks on the study that ships in cached_artifacts/: what a researcher checks first."""
from __future__ import annotations

import pandas as pd
import pytest

from xqg_core.paths import ARTIFACTS_DIR
from xqg_core.study.artifacts import load_artifacts
from xqg_core.study.grid import continuity_jumps


@pytest.fixture(scope="module")
def shipped():
    return load_artifacts(ARTIFACTS_DIR)


def test_no_metric_jumps_at_the_smallest_alpha(shipped):
    """Scores are continuous in alpha: a macro value that moves by a point or more between
    alpha = 0 and the smallest alpha > 0, much more steeply than over the next step, is a
    tie-breaking artifact (e.g. duplicate texts)."""
    jumps = continuity_jumps(shipped.results())
    assert jumps.empty, jumps.to_string()


def test_pawsx_pool_is_distinct_and_counts_match(shipped):
    info = shipped.manifest["benchmarks"]["pawsx-adv"]
    assert info["pool_sentences"] == shipped.manifest["corpora"]["pawsx-test"]["num_passages"]
    res = shipped.results()
    base = res[(res.benchmark == "pawsx-adv") & (res.alpha == 0) & (res.n == 1) & ~res.lang.str.startswith("avg")]
    counts = base.pivot_table(index="lang", columns="metric", values="num_queries")
    # the label-0 metrics count the same items; para_acc1 the label-1 items; together every item
    assert (counts["clean_acc1"] == counts["adv_acc1"]).all() and (counts["clean_acc1"] == counts["win_rate"]).all()
    items = shipped.table("queries/pawsx-adv.parquet")
    per_lang = items.groupby("lang").size()
    assert ((counts["clean_acc1"] + counts["para_acc1"]) == per_lang).all()
    assert (items[items.label == 0].groupby("lang").size() == counts["clean_acc1"]).all()


def test_continuity_jumps_flags_only_the_jump():
    rows = []
    for alpha, value in ((0.0, 40.0), (0.0025, 48.0), (0.005, 48.5)):
        rows.append(dict(benchmark="pawsx-adv", plm="m", alpha=alpha, n=1, lang="avg", metric="adv_acc1", value=value))
        rows.append(dict(benchmark="pawsx-adv", plm="m", alpha=alpha, n=1, lang="avg", metric="drop", value=2.0 + alpha))
        rows.append(dict(benchmark="pawsx-adv", plm="m", alpha=alpha, n=1, lang="de", metric="drop", value=alpha * 1e4))
    jumps = continuity_jumps(pd.DataFrame(rows))
    assert list(jumps.metric) == ["adv_acc1"] and jumps.jump.iloc[0] == pytest.approx(8.0)
    assert jumps.alpha.iloc[0] == 0.0025


def test_continuity_jumps_spares_a_steady_steep_slope():
    """A curve that falls 1.2 points per step from alpha = 0 on (a strong augmentation) is
    continuous; the same first step followed by a flat curve is a jump."""
    def rows(values):
        return [dict(benchmark="pawsx-adv", plm="m", alpha=a, n=5, lang="avg", metric="para_acc1", value=v, variant=var)
                for var, vs in values.items() for a, v in zip((0.0, 0.0025, 0.005, 0.01), vs)]

    steady = rows({"shuffled": (72.1, 70.9, 69.9, 68.0)})
    assert continuity_jumps(pd.DataFrame(steady)).empty
    kink = rows({"shuffled": (72.1, 70.9, 70.8, 70.7), "xqg": (72.1, 71.8, 71.5, 70.9)})
    jumps = continuity_jumps(pd.DataFrame(kink))
    assert list(jumps.variant) == ["shuffled"] and jumps.next_step.iloc[0] == pytest.approx(-0.1)
    # a curve without a second alpha > 0 (the ablation's) is judged on the first step alone
    lone = pd.DataFrame(rows({"only-ar": (72.1, 70.9)})[:2])
    assert list(continuity_jumps(lone).variant) == ["only-ar"]
