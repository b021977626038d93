"""Write docs/cli.md from the `mmhealth` parser itself, so the reference cannot drift from the code.

    .venv/bin/python scripts/cli_reference.py          # rewrite docs/cli.md
    .venv/bin/python scripts/cli_reference.py --check  # exit 1 if docs/cli.md is out of date
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mmhealth.cli import build_parser

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def walk(parser: argparse.ArgumentParser, path: list[str]):
    """Yield (command path, parser) for the parser and every sub-command below it, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, path + [name])


def conventions() -> list[str]:
    from mmhealth.cli_options import RENAMED

    old = ", ".join(f"`{o}` ({n})" for o, n in RENAMED.items())
    return [
        "## Conventions", "",
        "- **One name per concept.** `--quiet`: no progress bars (bars are drawn only when stderr is a terminal, "
        "so logs never get them); `--jobs N`: parallel workers or threads; `--manifest`: dbt's manifest.json; "
        f"`--json`: machine-readable output on stdout. Older spellings still parse, with a warning: {old}.",
        "- **Any working directory.** Defaults resolve from the project (`src/mmhealth/paths.py`): "
        "`$MMHEALTH_PROJECT`, else the nearest folder at or above the working directory holding `dbt_project.yml`, "
        "else the checkout mmhealth runs from. The lake is `--lake`, else `$MMHEALTH_LAKE`, else "
        "`<project>/demo-lake`; its dbt warehouse `<lake>/warehouse.duckdb`; the local feature store "
        "`$MMHEALTH_FEATURE_STORE`, else `<lake>/feature_store`; the manifest `<project>/target/manifest.json`; "
        "the policy `<project>/governance/policy.yml`. A path you type is relative to where you type it.",
        "",
    ]


def render() -> str:
    os.environ["COLUMNS"] = "110"  # argparse wraps help to the terminal; fix it so the file is stable
    lines = ["# `mmhealth` command reference", "",
             "Generated from the parser by `scripts/cli_reference.py`; do not edit by hand.", ""]
    lines += conventions()
    for path, parser in walk(build_parser(), ["mmhealth"]):
        lines += [f"## `{' '.join(path)}`", "", "```", parser.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="Write docs/cli.md from the mmhealth parser.")
    cli.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is out of date, write nothing")
    check = cli.parse_args().check
    text = render()
    if check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run .venv/bin/python scripts/cli_reference.py", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    OUT.write_text(text)
    print(f"wrote {OUT}")
