"""Progress bars only where someone watches them.

A bar redraws one line with carriage returns: on a terminal that is a bar, in a CI log or a file it is hundreds of
half lines. Every command asks here, so `--quiet` and a redirected stderr mean the same thing everywhere.
"""

from __future__ import annotations

import sys


def wanted(quiet: bool = False, stream=None) -> bool:
    """True when progress should be drawn: not --quiet, and stderr (where bars go) is a terminal."""
    if quiet:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(quiet: bool = False, **kwargs):
    """A tqdm bar that draws nothing unless `wanted(quiet)`; update / set_postfix_str still work when disabled."""
    from tqdm import tqdm

    return tqdm(disable=not wanted(quiet), **kwargs)
