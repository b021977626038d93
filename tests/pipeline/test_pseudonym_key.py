"""`mmhealth key` and mmhealth.pseudonym: the key file is created private, never overwritten, never printed, kept
out of the lake, and read the same way by every tool."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from mmhealth.cli import main
from mmhealth.errors import MMHealthError
from mmhealth.pseudonym import (DEFAULT_KEY_FILE, KEY_FILE_ENV, check_key_file, create_key, key_file, patient_key,
                                read_key)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_key_and_never_prints_it(tmp_path, capsys, monkeypatch):
    path = tmp_path / "cfg" / "mmhealth" / "pseudonym.key"
    old = os.umask(0)  # even a permissive umask must not widen the file
    try:
        assert main(["key", "init", "--file", str(path)]) == 0
    finally:
        os.umask(old)
    out = capsys.readouterr()
    key = path.read_text().strip()
    assert len(key) == 64 and int(key, 16) >= 0
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert key not in out.out + out.err and str(path) in out.out


def test_init_refuses_to_overwrite_and_exist_ok_keeps_the_key(tmp_path, capsys):
    path = tmp_path / "pseudonym.key"
    assert main(["key", "init", "--file", str(path)]) == 0
    key = path.read_text()
    capsys.readouterr()
    assert main(["key", "init", "--file", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already exists" in err and str(path) in err
    assert main(["key", "init", "--file", str(path), "--exist-ok"]) == 0
    assert "kept" in capsys.readouterr().out
    assert path.read_text() == key  # untouched


def test_two_keys_are_different(tmp_path):
    a, b = create_key(tmp_path / "a.key"), create_key(tmp_path / "b.key")
    assert a.path.read_text() != b.path.read_text()


@pytest.mark.parametrize("case, fix", [
    ("missing", "mmhealth key init"),
    ("world-readable", "chmod 600"),
    ("group-readable", "chmod 600"),
    ("short", "32+ hex"),
    ("not hex", "32+ hex"),
    ("binary", "32+ hex"),
    ("folder", "not a regular file"),
])
def test_check_refuses_an_unusable_key_file_in_one_line(tmp_path, capsys, case, fix):
    path = tmp_path / "pseudonym.key"
    if case != "missing":
        create_key(path)
    if case == "world-readable":
        path.chmod(0o644)
    elif case == "group-readable":
        path.chmod(0o640)
    elif case == "short":
        path.write_text("abcdef0123\n")
    elif case == "not hex":
        path.write_text("correct horse battery staple correct horse battery\n")
    elif case == "binary":
        path.write_bytes(os.urandom(32))
    elif case == "folder":
        path.unlink()
        path.mkdir()
    assert main(["key", "check", "--file", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and fix in err


def test_a_key_file_inside_the_lake_is_refused(tmp_path, capsys, monkeypatch):
    lake = tmp_path / "lake"
    lake.mkdir()
    assert main(["key", "init", "--file", str(lake / ".pseudonym_key"), "--lake", str(lake)]) == 1
    assert "inside the lake" in capsys.readouterr().err
    assert not (lake / ".pseudonym_key").exists()
    outside = create_key(tmp_path / "k.key").path
    monkeypatch.setenv("MMHEALTH_LAKE", str(tmp_path))  # the lake dbt uses, when no --lake is given
    assert main(["key", "check", "--file", str(outside)]) == 1
    monkeypatch.setenv("MMHEALTH_LAKE", str(lake))
    assert main(["key", "check", "--file", str(outside)]) == 0


def test_every_tool_finds_the_same_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    assert key_file() == tmp_path / DEFAULT_KEY_FILE.removeprefix("~/")
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "elsewhere.key"))
    assert key_file() == tmp_path / "elsewhere.key"
    assert main(["key", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "elsewhere.key")


def test_python_patient_key_is_the_documented_construction(tmp_path):
    kf = create_key(tmp_path / "k.key")
    key = read_key(kf.path)
    inner = hashlib.sha256(f"{key}:Patient-1".encode()).hexdigest()
    assert patient_key(key, "Patient-1") == hashlib.sha256(f"{key}:{inner}".encode()).hexdigest()
    assert check_key_file(kf.path).hex_chars == 64


def test_read_key_refuses_a_readable_file(tmp_path):
    path = create_key(tmp_path / "k.key").path
    path.chmod(0o604)
    with pytest.raises(MMHealthError, match="chmod 600"):
        read_key(path)
