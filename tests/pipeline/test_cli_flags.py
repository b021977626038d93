"""One name per concept across the CLI: `--quiet`, `--jobs`, `--manifest`, `--json`. The old spellings still
parse (hidden, with a warning) but no command's help shows them."""

from __future__ import annotations

import argparse

import pytest

from mmhealth.cli import build_parser, main
from mmhealth.cli_options import RENAMED

# The concept each of our one names stands for, and the dest argparse stores it in.
CONCEPTS = {"quiet": "--quiet", "jobs": "--jobs", "manifest": "--manifest", "json": "--json"}
OLD = {old for old in RENAMED if " " not in old}  # --format json is checked through the choices below


def _walk(parser: argparse.ArgumentParser, path=("mmhealth",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(build_parser()))


def _visible(parser):
    return [a for a in parser._actions if a.option_strings and a.help is not argparse.SUPPRESS]


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_shows_one_name_per_concept(path, parser):
    for action in _visible(parser):
        shown = set(action.option_strings)
        assert not shown & OLD, f"{' '.join(path)}: old spelling {shown & OLD} in the help - use {RENAMED}"
        if action.dest in CONCEPTS:
            assert action.option_strings == [CONCEPTS[action.dest]], f"{' '.join(path)}: {action.option_strings}"
        assert not (action.choices and "json" in action.choices), (
            f"{' '.join(path)} {action.option_strings}: JSON output is `--json`, not a choice")
    help_text = parser.format_help()
    for old in OLD:
        assert f"{old} " not in help_text and f"{old}\n" not in help_text and f"[{old}" not in help_text, \
            f"{' '.join(path)}: help mentions {old}"


def test_the_concepts_are_offered_where_they_apply():
    by_path = {" ".join(p[1:]): {s for a in _visible(parser) for s in a.option_strings} for p, parser in COMMANDS}
    for command in ("generate", "ingest", "train", "quality check", "quality baseline", "features publish",
                    "dashboards build", "dashboards quicksight", "govern plan", "govern apply"):
        assert "--quiet" in by_path[command], command  # every command that draws progress can be told not to
    for command in ("generate", "ingest", "train", "features publish"):
        assert "--jobs" in by_path[command], command
    for command in ("train", "govern validate", "quality check", "features publish", "dashboards build"):
        assert "--manifest" in by_path[command], command
    for command in ("ingest", "quality check", "govern plan", "govern access"):
        assert "--json" in by_path[command], command


@pytest.mark.parametrize("argv,dest,value", [
    (["ingest", "src", "--lake", "l", "--workers", "3"], "jobs", 3),
    (["ingest", "src", "--lake", "l", "--no-progress"], "quiet", True),
    (["train", "--threads", "2"], "jobs", 2),
    (["train", "--dbt-manifest", "m.json"], "manifest", "m.json"),
    (["features", "publish", "--to", "local", "--max-workers", "8"], "jobs", 8),
    (["govern", "access", "--format", "json"], "json", True),
    (["govern", "access", "--format", "md"], "json", False),
])
def test_old_spellings_still_parse_with_a_warning(argv, dest, value, capsys):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    assert "is deprecated - use" in capsys.readouterr().err


def test_defaults_are_unchanged_without_the_old_spelling():
    args = build_parser().parse_args(["ingest", "src", "--lake", "l"])
    assert (args.jobs, args.quiet, args.json) == (None, False, False)
    assert build_parser().parse_args(["train"]).jobs == 1
    assert build_parser().parse_args(["features", "publish", "--to", "local"]).jobs == 4


def test_govern_access_json(tmp_path, capsys, repo_root):
    fixtures = repo_root / "tests" / "governance" / "fixtures"
    base = ["--policy", str(fixtures / "policy.yml"), "--manifest", str(fixtures / "manifest.json")]
    assert main(["govern", "access", *base, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith(("{", "["))
