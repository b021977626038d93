"""A contender in the lock race tests (tests/ingest/test_lock.py), run as a child process.

    python lock_worker.py local|s3|ingest

It reads one JSON command per line on stdin: {"at": <CLOCK_MONOTONIC start>, ...}. At that instant (the clock
is system-wide, so two workers start within microseconds of each other) it tries to take the lock and prints one
JSON line: {"held": [t_taken, t_released]} or {"busy": "<the error message>"}. Taking the lock once the module
is imported is all a trial costs, so 200 trials take seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _wait_until(t: float) -> None:
    # Sleep most of the way and spin only the last milliseconds: two spinning workers on a 2-core CI machine would
    # starve each other and the test process, and the "race" would then start whenever the scheduler allowed.
    if t - time.monotonic() > 0.005:
        time.sleep(t - time.monotonic() - 0.005)
    while time.monotonic() < t:
        pass


def _local(cmd: dict) -> dict:
    from mmhealth.lake.lock import LakeBusy, LocalLock, Owner

    lock = LocalLock(Path(cmd["path"]), Owner.this_process(cmd["run"]), cmd["lake"])
    _wait_until(cmd["at"])
    try:
        with lock:
            t0 = time.monotonic()
            time.sleep(cmd["hold"])
            t1 = time.monotonic()
    except LakeBusy as exc:
        return {"busy": str(exc)}
    return {"held": [t0, t1], "run": cmd["run"]}


def _s3(cmd: dict, s3) -> dict:
    from mmhealth.lake.lock import LakeBusy, Owner, S3Lock

    lock = S3Lock(s3, cmd["bucket"], cmd["key"], Owner.this_process(cmd["run"]), cmd["lake"], lease_s=60)
    _wait_until(cmd["at"])
    try:
        with lock:
            t0 = time.monotonic()
            time.sleep(cmd["hold"])
            t1 = time.monotonic()
    except LakeBusy as exc:
        return {"busy": str(exc)}
    return {"held": [t0, t1], "run": cmd["run"], "took_over": lock.taken_over.run_id if lock.taken_over else None}


def _ingest(cmd: dict) -> dict:
    """A whole `run_ingest`, with the instants the lake lock was taken and released recorded around it."""
    from mmhealth.lake import lock as lock_module
    from mmhealth.lake.ingest import run_ingest
    from mmhealth.lake.lock import LakeBusy

    held: list[float] = []
    enter, leave = lock_module.LocalLock.__enter__, lock_module.LocalLock.__exit__

    def recording_enter(self):
        taken = enter(self)
        held.append(time.monotonic())
        return taken

    def recording_exit(self, *exc):
        held.append(time.monotonic())
        return leave(self, *exc)

    lock_module.LocalLock.__enter__, lock_module.LocalLock.__exit__ = recording_enter, recording_exit
    try:
        _wait_until(cmd["at"])
        try:
            report = run_ingest(Path(cmd["source"]), cmd["lake"], ["fhir"], {}, progress=False)
        except LakeBusy as exc:
            return {"busy": str(exc)}
        return {"held": held, "run": report.run_id, "tables": report.tables}
    finally:
        lock_module.LocalLock.__enter__, lock_module.LocalLock.__exit__ = enter, leave


def main() -> None:
    kind = sys.argv[1]
    s3 = None
    if kind == "s3":
        import boto3

        s3 = boto3.client("s3")
    if kind == "ingest":
        import mmhealth.lake.ingest  # noqa: F401  (imports paid before the first trial, not inside it)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if kind == "local":
                out = _local(cmd)
            elif kind == "s3":
                out = _s3(cmd, s3)
            else:
                out = _ingest(cmd)
        except Exception as exc:  # reported to the test, which fails with it
            out = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
