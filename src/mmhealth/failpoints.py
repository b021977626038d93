"""Test-only failpoints: named places where a test can stop a run it started in a child process.

Production code marks a place with `failpoints.hit("commit")`. Unless the environment variable
`MMHEALTH_FAILPOINTS` names that place, the call costs one dictionary look-up and does nothing; nothing sets it
outside the test suite. Crash and concurrency tests need a run stopped at a known instant (to `kill -9` it there,
or to freeze it with SIGSTOP and let another run overtake it), which no amount of timing can give reliably.

    MMHEALTH_FAILPOINTS="commit=pause"          # stop for good at "commit" (until the test kills the process)
    MMHEALTH_FAILPOINTS="commit=wait,locked=wait"  # stop there until the test deletes the marker file
    MMHEALTH_FAILPOINT_DIR=/tmp/x               # where a reached point writes its marker file, named after it

Points in the lake: `locked` (the lake lock was just taken), `read-<modality>` (a modality's files were read,
nothing committed yet), `commit` (parts are published, the manifest is about to be replaced).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "MMHEALTH_FAILPOINTS"
DIR_ENV = "MMHEALTH_FAILPOINT_DIR"


def _armed() -> dict[str, str]:
    spec = os.environ.get(ENV, "")
    points = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, action = item.partition("=")
        points[name] = action or "pause"
    return points


def hit(point: str) -> None:
    """Stop here if a test asked for it; otherwise return at once."""
    if ENV not in os.environ:
        return
    action = _armed().get(point)
    if action is None:
        return
    if action not in ("pause", "wait"):
        raise ValueError(f"{ENV}: unknown failpoint action {action!r} for {point} - use pause or wait")
    marker = Path(os.environ.get(DIR_ENV, ".")) / point
    marker.write_text(str(os.getpid()))
    if action == "pause":
        time.sleep(3600)  # the test kills the process long before this returns
        return
    while marker.exists():  # "wait": carry on once the test deletes the marker
        time.sleep(0.02)
