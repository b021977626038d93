"""One writer per lake: two runs started together never both hold the lock, locally or on S3, whatever stale
lock a killed run left; the loser says who holds it; an S3 commit never overwrites another run's commit.

The races run in two child processes (tests/ingest/lock_worker.py) started at the same CLOCK_MONOTONIC instant;
each reports the interval in which it held the lock, and no two intervals may overlap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from mmhealth.errors import MMHealthError
from mmhealth.lake.ingest import run_ingest
from mmhealth.lake.lock import EXIT_BUSY, LocalLock, Owner
from mmhealth.lake.store import open_store

from .conftest import connect

WORKER = Path(__file__).with_name("lock_worker.py")
BUCKET = "mmhealth-lock-test"


def _dead_pid() -> int:
    """The pid of a process that has exited (what a kill -9'd run leaves in its lock)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


DEAD_PID = _dead_pid()


def _stale_owner(run: str) -> dict:
    return {"run_id": run, "pid": DEAD_PID, "host": os.uname().nodename, "started": "2026-01-01T00:00:00Z"}


class Contenders:
    """Two worker processes that try to take a lock at the same instant, trial after trial."""

    def __init__(self, kind: str, env: dict | None = None):
        self.procs = [
            subprocess.Popen([sys.executable, str(WORKER), kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, **(env or {})})
            for _ in range(2)
        ]
        for p in self.procs:
            assert json.loads(p.stdout.readline()) == {"ready": True}

    def trial(self, **cmd) -> list[dict]:
        at = time.monotonic() + 0.1  # both read their command well before this instant, even on a loaded machine
        for i, p in enumerate(self.procs):
            p.stdin.write(json.dumps({**cmd, "at": at, "run": f"trial-run-{i}"}) + "\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in self.procs]
        errors = [r["error"] for r in results if "error" in r]
        assert not errors, errors
        return results

    def close(self) -> None:
        for p in self.procs:
            p.stdin.close()
            p.wait(timeout=30)


def _check_race(results_per_trial: list[list[dict]], min_contended: float) -> None:
    """No two holders at once; a loser names the holder; most trials were real races (the loser tried while the
    winner held the lock), or the test would prove nothing."""
    contended = 0
    for trial, results in enumerate(results_per_trial):
        held = [r["held"] for r in results if "held" in r]
        busy = [r["busy"] for r in results if "busy" in r]
        assert held, f"trial {trial}: nobody took the lock: {busy}"
        if len(held) == 2:
            (a0, a1), (b0, b1) = sorted((h[0], h[-1]) for h in held)
            assert a1 <= b0, f"trial {trial}: both held the lock at once: {held}"
        else:
            contended += 1
            winner = next(r for r in results if "held" in r)
            assert f"run {winner['run']} (pid " in busy[0], busy[0]  # the holder, not the stale lock's run
            assert "another ingest is writing this lake" in busy[0] and "\n" not in busy[0]
    assert contended >= min_contended * len(results_per_trial), f"only {contended} contended trials"


def test_local_lock_200_races_after_a_stale_lock_never_both_hold(tmp_path):
    lock = tmp_path / "lake" / "_lake" / "lock"
    lock.parent.mkdir(parents=True)
    racers = Contenders("local")
    try:
        results = []
        for trial in range(200):
            # What a killed run leaves: its name in the lock file (this project's format or the old bare pid).
            stale = _stale_owner(f"killed-{trial}") if trial % 2 else {"pid": DEAD_PID}
            lock.write_text(json.dumps(stale) if "run_id" in stale else str(stale["pid"]))
            results.append(racers.trial(path=str(lock), lake=str(lock.parents[1]), hold=0.05))
    finally:
        racers.close()
    _check_race(results, min_contended=0.5)
    winners = [r for rs in results for r in rs if "held" in r]
    assert len(winners) >= 200


def test_full_ingests_raced_after_a_stale_lock_one_loads_the_other_names_it(tmp_path):
    """Whole `run_ingest` calls into fresh lakes holding a killed run's lock and staging files: one run loads,
    the other stops with the holder's name, and the winner's files are all there (the loser deleted nothing)."""
    source = tmp_path / "src"
    (source / "fhir").mkdir(parents=True)
    (source / "fhir" / "Patient.ndjson").write_text(
        "".join(json.dumps({"resourceType": "Patient", "id": f"p{i}"}) + "\n" for i in range(5)))
    racers = Contenders("ingest")
    results = []
    try:
        for trial in range(20):
            lake = tmp_path / f"lake{trial}"
            (lake / "_lake" / "staging" / "killed-run" / "fhir").mkdir(parents=True)
            (lake / "_lake" / "staging" / "killed-run" / "fhir" / "part.parquet").write_bytes(b"left by a kill")
            (lake / "_lake" / "lock").write_text(json.dumps(_stale_owner("killed-run")))
            results.append(racers.trial(source=str(source), lake=str(lake)))
            loaded = [r for r in results[-1] if "held" in r]
            for r in loaded:
                assert r["tables"]["healthlake.patient"] == 5
            con = connect(lake)
            assert con.execute("SELECT count(*) FROM healthlake.patient").fetchone() == (5,)
            con.close()
            assert not (lake / "_lake" / "staging" / "killed-run").exists()
    finally:
        racers.close()
    _check_race(results, min_contended=0.5)


def test_cli_loser_exits_4_with_one_line_naming_the_holder(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "Patient.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p1"}) + "\n")
    lake = tmp_path / "lake"
    env = {**os.environ, "MMHEALTH_FAILPOINTS": "locked=wait", "MMHEALTH_FAILPOINT_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "mmhealth.cli", "ingest", str(source), "--lake", str(lake), "--modality", "fhir",
           "--quiet"]
    holder = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        marker = tmp_path / "locked"
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert holder.poll() is None and time.monotonic() < deadline, holder.stderr.read()
            time.sleep(0.05)
        loser = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert loser.returncode == EXIT_BUSY
        line = loser.stderr.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in line
        assert f"pid {holder.pid} on {os.uname().nodename}" in line and "wait for it to finish" in line
        marker.unlink()  # let the holder go on
        out, err = holder.communicate(timeout=120)
        assert holder.returncode == 0, err
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    # And a holder killed -9 leaves nothing that stops the next run.
    env["MMHEALTH_FAILPOINTS"] = "locked=pause"
    killed = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp_path / "locked").exists():
        assert killed.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    after = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert after.returncode == 0, after.stderr


def test_local_lock_message_when_the_holder_has_not_written_its_name(tmp_path):
    import fcntl

    path = tmp_path / "_lake" / "lock"
    path.parent.mkdir()
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, empty: a holder between flock() and writing its name
    try:
        with pytest.raises(MMHealthError, match="a run that has not written its name yet"):
            with LocalLock(path, Owner.this_process("me"), str(tmp_path)):
                pass
    finally:
        os.close(fd)
    with LocalLock(path, Owner.this_process("me"), str(tmp_path)):  # released: taken at once
        assert json.loads(path.read_text())["run_id"] == "me"
    assert path.read_text() == ""  # released: the next loser names nobody who has ended


# --- S3 -----------------------------------------------------------------------------------------------------------


@pytest.fixture()
def atomic_moto(moto_reset, monkeypatch):
    """moto checks If-Match / If-None-Match and then writes, without a lock between the two, on a threaded server:
    two conditional PUTs arriving together can both pass, which S3 itself never allows (its conditional writes
    are atomic; that is what they are for). Serialise moto's PutObject/DeleteObject so the races below test our
    code, not moto's."""
    from moto.s3.responses import S3Response

    gate = threading.Lock()
    for name in ("put_object", "delete_object"):
        original = getattr(S3Response, name)

        def serialised(self, _original=original):
            with gate:
                return _original(self)

        monkeypatch.setattr(S3Response, name, serialised)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_reset)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return moto_reset


def test_s3_lock_100_races_after_a_stale_lock_never_both_hold(atomic_moto):
    s3 = boto3.client("s3")
    # One stale lock per trial, all written first and left to expire together: a lease of 0.2 s, run out for real.
    for trial in range(100):
        body = {**_stale_owner(f"killed-{trial}"), "lease_s": 0.2}
        s3.put_object(Bucket=BUCKET, Key=f"t{trial}/_lake/lock", Body=json.dumps(body).encode())
    time.sleep(2.5)  # lease + S3's one-second Last-Modified resolution + margin
    racers = Contenders("s3")
    try:
        results = [racers.trial(bucket=BUCKET, key=f"t{trial}/_lake/lock", lake=f"s3://{BUCKET}/t{trial}", hold=0.1)
                   for trial in range(100)]
    finally:
        racers.close()
    _check_race(results, min_contended=0.5)
    for trial, rs in enumerate(results):
        took = {r.get("took_over") for r in rs if "held" in r} - {None}
        assert took <= {f"killed-{trial}"}  # only ever the stale run's lock is taken over, never the winner's
    left = s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    assert left == 0  # every winner released its lock, and no loser deleted anything


def _cli_env(tmp: Path, cache: str, **extra) -> dict:
    return {**os.environ, "MMHEALTH_CACHE": str(tmp / cache), **extra}


def _ingest_cmd(source: Path, lake: str) -> list[str]:
    return [sys.executable, "-m", "mmhealth.cli", "ingest", str(source), "--lake", lake, "--modality", "fhir",
            "--quiet"]


def _export(folder: Path, name: str, ids: list[str]) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{name}.ndjson").write_text(
        "".join(json.dumps({"resourceType": "Patient", "id": i}) + "\n" for i in ids))
    return folder


def _s3_manifest(prefix: str) -> dict:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"{prefix}/_lake/manifest.json")["Body"].read()
    return json.loads(body)


def _parts_exist(prefix: str, manifest: dict) -> bool:
    live = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}
    return all(f"{prefix}/{p['key']}" in live for parts in manifest["tables"].values() for p in parts)


def test_two_hosts_ingesting_one_s3_lake_never_lose_a_commit(atomic_moto, tmp_path):
    """Two `mmhealth ingest` processes with their own caches (two hosts) into one S3 lake, started together:
    each commits fully or exits 4 naming the holder; every run that exited 0 has its file in the lake."""
    a = _export(tmp_path / "a", "a_patients", ["a1", "a2"])
    b = _export(tmp_path / "b", "b_patients", ["b1"])
    outcomes = set()
    for trial in range(3):
        prefix = f"race{trial}"
        lake = f"s3://{BUCKET}/{prefix}"
        procs = {name: subprocess.Popen(_ingest_cmd(src, lake), env=_cli_env(tmp_path, f"cache-{name}"),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name, src in (("a", a), ("b", b))}
        done = {name: (p.wait(timeout=300), p.stderr.read()) for name, p in procs.items()}
        for p in procs.values():
            p.stdout.close()
            p.stderr.close()
        manifest = _s3_manifest(prefix)
        for name, (code, err) in done.items():
            assert code in (0, EXIT_BUSY), err
            if code == 0:
                assert f"{name}_patients.ndjson" in manifest["files"], (name, manifest["files"])
            else:
                assert len(err.strip().splitlines()) == 1 and "another ingest is writing this lake" in err
                assert " on " in err and "pid " in err
        outcomes.add(tuple(sorted(c for c, _ in done.values())))
        assert _parts_exist(prefix, manifest)
        rows = sum(p["rows"] for p in manifest["tables"]["healthlake.patient"])
        assert rows == 2 * ("a_patients.ndjson" in manifest["files"]) + ("b_patients.ndjson" in manifest["files"])
    assert any(EXIT_BUSY in o for o in outcomes), outcomes  # the runs did race (else this proved nothing)


def test_a_run_that_stalls_past_its_lease_is_overtaken_and_commits_nothing(atomic_moto, tmp_path):
    """Run A stalls (SIGSTOP) right before its commit until its lease runs out; run B on another host takes the
    stale lock over and commits; A, resumed, must not commit over B: it exits with one line naming B."""
    lake = f"s3://{BUCKET}/stall"
    a_src = _export(tmp_path / "a", "a_patients", ["a1"])
    b_src = _export(tmp_path / "b", "b_patients", ["b1"])
    env_a = _cli_env(tmp_path, "cache-a", MMHEALTH_LOCK_LEASE_S="1", MMHEALTH_FAILPOINTS="commit=wait",
                     MMHEALTH_FAILPOINT_DIR=str(tmp_path))
    a = subprocess.Popen(_ingest_cmd(a_src, lake), env=env_a, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        marker = tmp_path / "commit"
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert a.poll() is None and time.monotonic() < deadline, a.stderr.read()
            time.sleep(0.05)
        a.send_signal(signal.SIGSTOP)  # a stall: no heartbeat, no progress
        time.sleep(3.5)  # lease 1 s + Last-Modified resolution + margin
        b = subprocess.run(_ingest_cmd(b_src, lake) + ["--json"], env=_cli_env(tmp_path, "cache-b"),
                           capture_output=True, text=True, timeout=300)
        assert b.returncode == 0, b.stderr
        b_report = json.loads(b.stdout)
        assert any("took over the lake lock of run" in n for n in b_report["notes"]), b_report["notes"]
        a.send_signal(signal.SIGCONT)
        marker.unlink()
        out, err = a.communicate(timeout=120)
    finally:
        if a.poll() is None:
            a.send_signal(signal.SIGCONT)
            a.kill()
            a.wait()
    assert a.returncode == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "stalled longer than its 1 s lease" in err and "nothing more of this run was committed" in err
    assert f"the lake lock went to another run, finished since (the lake's last commit is run {b_report['run_id']})" in err
    manifest = _s3_manifest("stall")
    assert set(manifest["files"]) == {"b_patients.ndjson"}  # B's commit stands; A's never happened
    assert manifest["runs"] == [b_report["run_id"]]
    assert _parts_exist("stall", manifest)
    # A's published, never committed parts were spared by B (A might still have been writing) ...
    s3 = boto3.client("s3")
    orphans = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="stall/healthlake/").get("Contents", [])
               if b_report["run_id"] not in o["Key"]]
    assert orphans
    # ... and are collected by the next run, which finds no stale lock; then A's file loads normally.
    again = subprocess.run(_ingest_cmd(a_src, lake), env=_cli_env(tmp_path, "cache-a"), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    manifest = _s3_manifest("stall")
    assert set(manifest["files"]) == {"a_patients.ndjson", "b_patients.ndjson"}
    live = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="stall/healthlake/").get("Contents", [])}
    assert not live & set(orphans)
    assert _parts_exist("stall", manifest)


def test_s3_manifest_commit_is_conditional_on_what_the_run_read(atomic_moto, tmp_path, monkeypatch):
    """Even with the lock out of the picture, a commit cannot overwrite a manifest another run wrote meanwhile."""
    monkeypatch.setenv("MMHEALTH_CACHE", str(tmp_path / "cache"))
    lake = f"s3://{BUCKET}/cas"
    run_ingest(_export(tmp_path / "first", "first", ["f1"]), lake, ["fhir"], {}, progress=False)
    slow, fast = open_store(lake), open_store(lake)
    mine = slow.read_manifest()
    theirs = fast.read_manifest()
    theirs.runs.append("their-run")
    fast.write_manifest(theirs)
    mine.runs.append("my-run")
    with pytest.raises(MMHealthError, match="another run \\(run their-run\\) committed to this lake"):
        slow.write_manifest(mine)
    assert _s3_manifest("cas")["runs"][-1] == "their-run"
    # A lake with no manifest yet: two first commits cannot both succeed either.
    one, two = open_store(f"s3://{BUCKET}/fresh"), open_store(f"s3://{BUCKET}/fresh")
    m1, m2 = one.read_manifest(), two.read_manifest()
    one.write_manifest(m1)
    with pytest.raises(MMHealthError, match="committed to this lake"):
        two.write_manifest(m2)


def test_a_stale_s3_lock_left_by_a_killed_run_is_taken_over(atomic_moto, tmp_path, monkeypatch):
    monkeypatch.setenv("MMHEALTH_CACHE", str(tmp_path / "cache"))
    s3 = boto3.client("s3")
    body = {**_stale_owner("killed-run"), "lease_s": 0.1}
    s3.put_object(Bucket=BUCKET, Key="stale/_lake/lock", Body=json.dumps(body).encode())
    live = {**_stale_owner("live-run"), "lease_s": 600}
    s3.put_object(Bucket=BUCKET, Key="live/_lake/lock", Body=json.dumps(live).encode())
    time.sleep(2.2)  # lease + one second of margin, on S3's clock whose Date and Last-Modified have 1 s resolution
    src = _export(tmp_path / "src", "p", ["p1"])
    report = run_ingest(src, f"s3://{BUCKET}/stale", ["fhir"], {}, progress=False)
    assert any("took over the lake lock of run killed-run" in n for n in report.notes)
    assert report.tables["healthlake.patient"] == 1
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="stale/_lake/lock")  # released at the end
    with pytest.raises(MMHealthError, match="another ingest is writing this lake: run live-run .* lease until"):
        run_ingest(src, f"s3://{BUCKET}/live", ["fhir"], {}, progress=False)
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="live/_lake/lock")["Body"].read())["run_id"] == "live-run"


def test_a_live_s3_holder_renews_its_lease_so_it_is_never_taken_over(atomic_moto):
    """A holder's lease is 1 s, and it holds for 4 s: its heartbeat keeps the lock live, so a run trying after the
    first lease would have run out is told to wait - and the holder still commits (confirm passes)."""
    from mmhealth.lake.lock import S3Lock

    s3 = boto3.client("s3")
    holder = S3Lock(s3, BUCKET, "hb/_lake/lock", Owner.this_process("holder-run"), f"s3://{BUCKET}/hb", lease_s=1)
    with holder:
        time.sleep(3.5)
        with pytest.raises(MMHealthError, match="run holder-run .* lease until"):
            with S3Lock(s3, BUCKET, "hb/_lake/lock", Owner.this_process("late-run"), f"s3://{BUCKET}/hb", lease_s=1):
                pass
        holder.confirm()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="hb/")


def test_s3_lock_release_without_conditional_deletes_deletes_only_its_own_lock():
    """An S3-compatible store that rejects DeleteObject with If-Match: the lock reads, compares, then deletes."""
    from botocore.stub import Stubber

    from mmhealth.lake.lock import S3Lock

    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    lock = S3Lock(s3, "b", "l/_lake/lock", Owner.this_process("me"), "s3://b/l", lease_s=600)
    with Stubber(s3) as stub:
        stub.add_response("put_object", {"ETag": '"e1"'},
                          {"Bucket": "b", "Key": "l/_lake/lock", "Body": lock._body(), "IfNoneMatch": "*"})
        stub.add_client_error("delete_object", "NotImplemented", http_status_code=501,
                              expected_params={"Bucket": "b", "Key": "l/_lake/lock", "IfMatch": '"e1"'})
        stub.add_response("get_object", {"ETag": '"e1"'}, {"Bucket": "b", "Key": "l/_lake/lock"})
        stub.add_response("delete_object", {}, {"Bucket": "b", "Key": "l/_lake/lock"})
        with lock:
            pass
        stub.assert_no_pending_responses()
