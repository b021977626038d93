"""Worker processes for the readers that spread files across cores (imaging's headers and image sets, genomics'
VCFs): how many by default, and how they start."""

from __future__ import annotations

import os
from typing import Callable


def default_workers() -> int:
    """The cores this process may run on (`--jobs` when not given)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def spawn_pool(workers: int, initializer: Callable[[], None] | None = None):
    """A process pool of `workers` fresh interpreters. Spawned, not forked: the ingest process may hold DuckDB's
    threads (from the FHIR read) or other thread pools that must not be duplicated mid-flight."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer)
