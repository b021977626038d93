"""Ask the kernel to start reading files a worker is about to open.

A 100,000-patient DICOM source (23 GB in 690,000 small files) does not fit in the page cache, so the header pass and
the pixel pass each read every file from disk again. One file at a time leaves the disk idle between requests;
announcing a batch first (`posix_fadvise(WILLNEED)`) queues all of its reads at once, and the opens that follow find
the bytes in memory. Where the call is missing (macOS, Windows) or refused, nothing happens: it is only a hint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)


def readahead(paths: Iterable[Path | str]) -> int:
    """Start reading `paths` into the page cache without waiting; returns how many files were announced."""
    if _WILLNEED is None:
        return 0
    announced = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # the reader meets the same error on its own open and words it
        try:
            os.posix_fadvise(fd, 0, 0, _WILLNEED)
            announced += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return announced


def read_ahead_of(items: Iterable[T], path_of: Callable[[T], Path | str], window: int = 64) -> Iterator[T]:
    """`items` in order, each window's files announced while the window before it is being worked on: a reader that
    takes one file at a time (genomics: 61,538 small VCFs at 100,000 patients) then finds the next files in memory
    instead of waiting on the disk for each in turn."""
    items = list(items)
    readahead(path_of(x) for x in items[:window])
    for start in range(0, len(items), window):
        readahead(path_of(x) for x in items[start + window:start + 2 * window])
        yield from items[start:start + window]
