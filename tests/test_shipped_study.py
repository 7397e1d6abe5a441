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


def readme_study_paragraph() -> str:
    """The README's paragraph on the shipped study, on one line."""
    import re

    from xqg_core.paths import PROJECT_ROOT

    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("**The shipped study**")
    return re.sub(r"\s+", " ", text[start : text.index("\n\n", start)])


def test_the_readme_quotes_the_shipped_study(shipped):
    """Every figure the README gives for the shipped study (counts, grid, generator, encoders,
    resamples, halves) is the manifest's or the artifacts'."""
    import re

    def number(pattern: str) -> int:
        found = re.search(pattern, readme)
        assert found, f"README: no match for {pattern!r}"
        return int(found.group(1).replace(",", ""))

    readme = readme_study_paragraph()
    m, cfg = shipped.manifest, shipped.manifest["config"]
    xquad = shipped.table("queries/xquad-xr.parquet")
    docids = shipped.table("corpora/xquad-xr.parquet").docid
    assert number(r"xquad-xr = ([\d,]+) questions") == len(xquad)
    assert number(r"\(([\d,]+) x \d+ languages\)") * number(r"\([\d,]+ x (\d+) languages\)") == len(xquad)
    assert number(r"against ([\d,]+) passages") == m["corpora"]["xquad-xr"]["num_passages"] == len(docids)
    assert number(r"\(([\d,]+) XQuAD \+") == docids.str.startswith("xquad-").sum()
    assert number(r"every one of the ([\d,]+) Vital Articles") == docids.str.startswith("vital-").sum()
    assert number(r"pawsx-adv = ([\d,]+) queries") == len(shipped.table("queries/pawsx-adv.parquet"))
    assert number(r"\(([\d,]+) labelled test rows") == m["benchmarks"]["pawsx-adv"]["rows"]
    assert number(r"the ([\d,]+) rows whose English sentences are identical") == (
        m["benchmarks"]["pawsx-adv"]["identical_rows_left_out"])
    assert number(r"pool of the ([\d,]+) distinct") == m["benchmarks"]["pawsx-adv"]["pool_sentences"]
    assert number(r"([\d,]+) generated queries") == len(shipped.table("generated_queries.parquet"))
    assert re.search(rf"from the `{m['models']['generator']['name']}` generator", readme)
    assert re.search(r"encoders " + r",? (and )?".join(f"`{e}`" for e in cfg["encoders"]), readme)
    assert number(r"(\d+) alphas") == len(cfg["alphas"])
    assert number(r"x n = 1\.\.(\d+)") == cfg["n_max"]
    assert number(r"\(([\d,]+) resamples each\)") == m["significance"]["resamples"]
    halves = shipped.table("splits.parquet")
    counts = halves[(halves.alpha == 0) & (halves.variant == "xqg") & (halves.metric == "R@2kt") & (halves.lang == "de")
                    & (halves.n == 1) & (halves.plm == cfg["encoders"][0])].set_index("split").num_queries
    assert number(r"\(([\d,]+) dev and") == counts["dev"] and number(r"dev and ([\d,]+) test") == counts["test"]


def test_the_shipped_files_keep_their_size_budgets(shipped):
    """The study's files (the manifest's list, every one of them) under 250 MB in all and 50 MB
    each; the generator's weights beside them under their own 80 MB, 50 MB a file."""
    from xqg_core.io import MAX_FILE_BYTES, over_size_budget
    from xqg_core.models.train_generator import MAX_WEIGHTS_BYTES
    from xqg_core.study.artifacts import MAX_TOTAL_BYTES

    listed = {rel: info["bytes"] for rel, info in shipped.manifest["files"].items()}
    on_disk = {p.relative_to(ARTIFACTS_DIR).as_posix(): p.stat().st_size for p in ARTIFACTS_DIR.rglob("*")
               if p.is_file() and p.parts[len(ARTIFACTS_DIR.parts)] != "generator"
               and p.name not in ("manifest.json", "README.md")}
    assert listed == on_disk
    assert over_size_budget(listed, MAX_FILE_BYTES, MAX_TOTAL_BYTES, "the study") is None
    weights = {p.name: p.stat().st_size for p in (ARTIFACTS_DIR / "generator").iterdir()}
    assert weights and over_size_budget(weights, MAX_FILE_BYTES, MAX_WEIGHTS_BYTES, "the generator weights") is None
