"""`make bench`: run every area's benchmark, then assemble BENCHMARKS.md from their reports.

Each `scripts/bench_<area>.py` measures one stage and writes `benchmarks/<area>.md` with the command that
produced its figures. This script runs them in the data's order (or only those named) and concatenates the
reports, so BENCHMARKS.md always says which command produced each number.

    .venv/bin/python scripts/bench.py                 # all areas (tens of minutes on 2 cores)
    .venv/bin/python scripts/bench.py ingest dbt      # some areas, then reassemble
    .venv/bin/python scripts/bench.py --assemble-only # only rebuild BENCHMARKS.md from benchmarks/*.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The data's path; a report that is not listed here still goes in, after these.
ORDER = ["synth", "ingest", "imaging", "views", "dbt", "governance", "quality", "dashboards", "ml", "scale"]
SCRIPT = {"governance": "bench_govern.py"}
# Arguments each area's own report was measured with (see the command line in its section).
ARGS = {
    "quality": ["--patients", "10000", "--out", "benchmarks/quality.md"],
    "ml": ["--write", "benchmarks/ml.md"],
    # the whole pipeline at 10,000 / 30,000 / 100,000 patients (hours on 2 cores; 100,000 needs tens of GB of disk)
    "scale": ["--drop-scratch"],
}
# A second run of an area on the demo's real data, when `make demo` has made it.
DEMO_ARGS = {
    "ml": ["--store", "demo-lake/feature_store", "--serve-modalities", "clinical+genomic",
           "--write", "benchmarks/ml.md", "--append", "--describe", "make demo (1,300 patients)"],
}


def script_for(area: str) -> Path:
    return REPO / "scripts" / SCRIPT.get(area, f"bench_{area}.py")


def assemble() -> Path:
    reports = {p.stem: p for p in (REPO / "benchmarks").glob("*.md")}
    ordered = [a for a in ORDER if a in reports] + sorted(set(reports) - set(ORDER))
    parts = [
        "# Benchmarks",
        "",
        "Measured on the project's machine (2 cores, 24 GB) with `make bench` (`scripts/bench.py`), which runs",
        "`scripts/bench_<area>.py` for each area; each section names the exact command behind its figures.",
        "Figures are wall-clock unless said otherwise; the machine can be shared, so single runs vary.",
        "",
    ]
    for area in ordered:
        text = reports[area].read_text().strip()
        # Demote the report's own headings one level so they nest under this page's title.
        parts += ["#" + line if line.startswith("#") else line for line in text.splitlines()] + [""]
    out = REPO / "BENCHMARKS.md"
    out.write_text("\n".join(parts))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("areas", nargs="*", help=f"areas to run, in this order by default: {' '.join(ORDER)}")
    ap.add_argument("--assemble-only", action="store_true", help="only rebuild BENCHMARKS.md from benchmarks/*.md")
    args = ap.parse_args(argv)
    failed: list[str] = []
    if not args.assemble_only:
        areas = args.areas or [a for a in ORDER if script_for(a).exists()]
        for area in areas:
            script = script_for(area)
            print(f"== bench {area}: {script.relative_to(REPO)}", flush=True)
            start = time.perf_counter()
            code = subprocess.call([sys.executable, str(script), *ARGS.get(area, [])], cwd=REPO)
            if not code and area in DEMO_ARGS and (REPO / "demo-lake" / "feature_store").is_dir():
                code = subprocess.call([sys.executable, str(script), *DEMO_ARGS[area]], cwd=REPO)
            print(f"== bench {area}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
            if code:
                failed.append(area)
        if failed:
            print(f"benchmarks failed: {', '.join(failed)} (their reports were not updated)", file=sys.stderr)
    print(f"wrote {assemble()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
