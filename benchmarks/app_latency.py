"""Server time of the dashboard's interactions on the shipped study (or $XQG_ARTIFACTS).

- live search: encoding one query, and searching P'(alpha, n) of the xquad-xr passages with
  the encoded query (baseline and augmented ranks), per encoder;
- a Results interaction: one script run of the Results page after the alpha slider moves
  (AppTest, caches warm), and an off-grid alpha recomputed live;
- page loads: each page's first script run in a fresh session (caches warm).

    python -m benchmarks.app_latency [--repeats 20] [--write]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.report import machine_line, publish
from xqg_core.study.artifacts import load_artifacts

QUERIES = ["Wie lang ist der Nil?", "¿Quién ganó el Super Bowl 50?", "Какая самая длинная река?", "尼罗河有多长？",
           "ما هي عاصمة فرنسا؟", "सुपर बाउल 50 किसने जीता?", "Ai là người phát minh ra bóng đèn?"]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median, 90th percentile) milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times)), float(np.percentile(times, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from streamlit.testing.v1 import AppTest

    from xqg_core.explore.live import LiveIndex
    from xqg_core.models.encoders import load_encoder
    from xqg_core.paths import PROJECT_ROOT

    arts = load_artifacts(os.environ.get("XQG_ARTIFACTS"))
    lines = ["## Dashboard latency (`python -m benchmarks.app_latency --write`)", "",
             f"Machine: {machine_line()}. Artifacts: `{arts.root.name}` "
             f"({arts.manifest['corpora']['xquad-xr']['num_passages']:,} xquad-xr passages). "
             f"Median / 90th percentile milliseconds over {args.repeats} runs.", "",
             "| interaction | encoder | median ms | p90 ms |", "|---|---|---|---|"]
    for plm in arts.encoders:
        encoder = load_encoder(plm, device="cpu")
        index = LiveIndex(arts, plm)
        encoder.encode_queries(QUERIES[:1])  # warm-up
        cycle = iter(range(10**9))
        enc = timed(lambda: encoder.encode_queries([QUERIES[next(cycle) % len(QUERIES)]]), args.repeats)
        vectors = encoder.encode_queries(QUERIES)
        search = timed(lambda: index.search(vectors[next(cycle) % len(QUERIES)], 0.01, arts.n_max, 10), args.repeats)
        lines.append(f"| live search: encode one query | {plm} | {enc[0]:.1f} | {enc[1]:.1f} |")
        lines.append(f"| live search: search an encoded query (top 10, baseline + xQG ranks) | {plm} | "
                     f"{search[0]:.1f} | {search[1]:.1f} |")

    app = str(PROJECT_ROOT / "app.py")
    at = AppTest.from_file(app, default_timeout=300)
    at.run()
    at.switch_page("pages/results.py").run()
    alphas = [a for a in arts.alphas if a > 0]
    positions = iter(range(10**9))

    def move_alpha():
        at.select_slider(key="alpha").set_value(alphas[next(positions) % len(alphas)]).run()
    move = timed(move_alpha, args.repeats)
    lines.append(f"| Results page: move the alpha slider (script run) | {arts.encoders[0]} | {move[0]:.0f} | {move[1]:.0f} |")
    at.text_input(key="exact").input("0.0125").run()  # builds the live evaluator once
    values = iter(np.linspace(0.011, 0.019, 1000))

    def exact_alpha():
        at.text_input(key="exact").input(f"{next(values):.5f}").run()
    off = timed(exact_alpha, max(3, args.repeats // 4))
    lines.append(f"| Results page: an off-grid alpha recomputed live (all queries) | {arts.encoders[0]} | "
                 f"{off[0]:.0f} | {off[1]:.0f} |")
    for page in ("pages/results.py", "pages/robustness.py", "pages/embedding_shift.py", "pages/live_search.py"):
        def load():
            fresh = AppTest.from_file(app, default_timeout=300)
            fresh.run()
            fresh.switch_page(page).run()
        first = timed(load, 3)
        lines.append(f"| page load incl. the overview: {page} | - | {first[0]:.0f} | {first[1]:.0f} |")
    publish("app-latency", lines, args.write)


if __name__ == "__main__":
    main()
