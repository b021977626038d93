"""Flags that mean the same thing in every sub-command, spelled one way: `--quiet` (no progress), `--jobs N`
(parallel workers), `--manifest` (dbt's manifest.json), `--json` (machine-readable output on stdout).

Stages add them through these helpers so the names cannot drift apart again. Spellings used before are kept as
hidden aliases that still work but warn: scripts keep running while they are updated.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

# Old spelling -> the one name now. tests/test_cli_flags.py fails if any of these shows in a command's help.
RENAMED = {
    "--no-progress": "--quiet",
    "--workers": "--jobs",
    "--max-workers": "--jobs",
    "--threads": "--jobs",
    "--dbt-manifest": "--manifest",
    "--format json": "--json",
}


def add_quiet(p: argparse.ArgumentParser, help: str = "no progress bars (they are drawn only on a terminal anyway)") -> None:
    p.add_argument("--quiet", action="store_true", help=help)


def add_jobs(p: argparse.ArgumentParser, help: str, default: int | None = None) -> None:
    p.add_argument("--jobs", type=int, default=default, metavar="N", help=help)


def add_manifest(p: argparse.ArgumentParser, help: str, default: Any = None, type: Callable | None = None) -> None:
    kw = {"type": type} if type else {}
    p.add_argument("--manifest", default=default, metavar="MANIFEST", help=help, **kw)


def add_json(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--json", action="store_true", help=help)


class _Renamed(argparse.Action):
    """A hidden old spelling: stores into the new option's dest and says once on stderr what to write instead."""

    def __init__(self, option_strings, dest, new_name: str, convert: Callable | None = None, **kwargs):
        self.new_name, self.convert = new_name, convert
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated - use {self.new_name}", file=sys.stderr)
        value = self.const if self.nargs == 0 else values
        setattr(namespace, self.dest, self.convert(value) if self.convert else value)


def deprecated_flag(p: argparse.ArgumentParser, old: str, new: str, dest: str) -> None:
    """`old` (no value) sets `dest` to True, like `new`."""
    p.add_argument(old, dest=dest, action=_Renamed, new_name=new, nargs=0, const=True,
                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def deprecated_option(p: argparse.ArgumentParser, old: str, new: str, dest: str, *, type: Callable | None = None,
                      convert: Callable | None = None, choices=None) -> None:
    """`old VALUE` stores VALUE (typed, then converted) into `dest`, like `new`."""
    p.add_argument(old, dest=dest, action=_Renamed, new_name=new, type=type, convert=convert, choices=choices,
                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)
