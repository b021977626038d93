"""dbt reads the pseudonym key where it is kept, at run time: what dbt compiles names the key file, not the key, and
a missing or malformed key file stops the query with the file and the fix (instead of nulling every patient_key)."""

from __future__ import annotations

import subprocess

import duckdb
import pytest

from dbt_testkit import BIN, REPO, dbt_env


@pytest.fixture(scope="module")
def shown(tmp_path_factory, pseudonym_key_file):
    """`dbt show` of mmh_patient_key on a literal id, with the session's key file: (output, compiled SQL, folder)."""
    scratch = tmp_path_factory.mktemp("key-show")
    lake = scratch / "lake"
    lake.mkdir()
    duckdb.connect(str(lake / "lake.duckdb")).close()  # the profile attaches it; nothing here reads it
    proc = subprocess.run([str(BIN / "dbt"), "show", "--output", "json",
                           "--inline", "select {{ mmh_patient_key(\"'p-1'\") }} as k",
                           "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")],
                          cwd=REPO, env=dbt_env(lake), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    compiled = next(p for p in (scratch / "target" / "compiled").rglob("inline_query*") if p.is_file()).read_text()
    return proc.stdout, compiled, scratch


def test_dbt_hashes_with_the_key_file_and_writes_only_its_path(shown, pseudonym_key_file):
    from mmhealth.pseudonym import patient_key, read_key

    out, compiled, scratch = shown
    key = read_key(pseudonym_key_file)
    assert patient_key(key, "p-1") in out
    assert f"read_text('{pseudonym_key_file}')" in compiled
    written = [p for p in scratch.rglob("*") if p.is_file() and p.suffix != ".duckdb"]
    assert any(p.name == "manifest.json" for p in written) and any(p.name == "dbt.log" for p in written)
    assert [p for p in written if key.encode() in p.read_bytes()] == []


@pytest.mark.parametrize("content", [None, "", "abc123\n", "not a key at all, not a key at all, not a key\n",
                                     "ab" * 32 + "\n" + "cd" * 32 + "\n"],
                         ids=["missing", "empty", "short", "not-hex", "two-keys"])
def test_a_bad_key_file_stops_the_query_with_the_fix(shown, pseudonym_key_file, tmp_path, content):
    """The SQL dbt compiled, pointed at a bad key file, run as DuckDB runs it inside `dbt build`."""
    _, compiled, _ = shown
    bad = tmp_path / "pseudonym.key"
    if content is not None:
        bad.write_text(content)
    sql = compiled.replace(str(pseudonym_key_file), str(bad))
    with pytest.raises(duckdb.Error) as err:
        duckdb.connect().execute(sql).fetchall()
    assert f"pseudonym key file {bad} is missing or holds no key" in str(err.value)
    assert "mmhealth key init" in str(err.value)
