"""The one `mmhealth` command. Each stage owns its sub-commands in `<stage>/command.py`, which exposes
`register(subparsers)`; this file only lists them, so stages never import each other to be reachable."""

from __future__ import annotations

import argparse
import importlib
import sys

from mmhealth import __version__
from mmhealth.errors import MMHealthError

# Order is the data's path; it is also the order `mmhealth --help` lists them in.
STAGE_COMMANDS = (
    "mmhealth.pseudonym_command",  # the key comes first: dbt needs it to build any mart
    "mmhealth.synth.command",
    "mmhealth.lake.command",
    "mmhealth.views.command",
    "mmhealth.governance.command",
    "mmhealth.quality.command",
    "mmhealth.features.command",
    "mmhealth.dashboards.command",
    "mmhealth.ml.command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmhealth",
        description="Multimodal health data (FHIR, DICOM, VCF) into governed, tested patient marts.",
    )
    parser.add_argument("--version", action="version", version=f"mmhealth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in STAGE_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a stage that is not built yet
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except MMHealthError as exc:
        print(f"mmhealth {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mmhealth {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
