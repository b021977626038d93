"""The CLI as a whole: every command answers --help, and the generated reference in docs/ is current."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from mmhealth.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def _reference_module():
    spec = importlib.util.spec_from_file_location("cli_reference", REPO / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_commands():
    ref = _reference_module()
    return [path[1:] for path, _ in ref.walk(build_parser(), ["mmhealth"])]


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "mmhealth")
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mmhealth")
    assert len(out.splitlines()) > 3  # more than a bare usage line: options are described


def test_the_stages_are_all_reachable():
    names = {c[0] for c in _all_commands() if c}
    assert {"generate", "ingest", "govern", "quality", "features", "dashboards", "train", "predict", "serve"} <= names


def test_docs_cli_reference_is_current():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "cli_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_user_error_is_one_line_and_exit_1(tmp_path, capsys):
    code = main(["ingest", str(tmp_path / "no-such-folder"), "--lake", str(tmp_path / "lake")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "no-such-folder" in err
