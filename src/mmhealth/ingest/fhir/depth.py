"""How deep a FHIR resource nests, and how deep the lake lets it.

Nesting is counted in JSON levels: the resource object is level 1, each object or array inside adds one. Real
resources stay shallow (Synthea's deepest is 8; a QuestionnaireResponse with 40 nested items is about 83), but
input can nest without limit, and three things break on the way: Python's `json` raises RecursionError near
1,000 levels, DuckDB's JSON type inference overflows its stack (a crash, not an error) somewhere past 10,000,
and Parquet readers refuse schemas deeper than 100 (the lake types only the first `schema.TYPED_DEPTH`
levels and keeps the rest as JSON text, which handles that one). A record nested more than `MAX_DEPTH` levels
is therefore quarantined as `too-deep`, on every path, before any of those can be reached.

Counting `{` and `[` bytes bounds the depth from above (brackets inside strings only add), so the exact scan,
which walks the text token by token, runs only for records with more than `MAX_DEPTH` brackets.
"""

from __future__ import annotations

import re

MAX_DEPTH = 500
# A JSON string (skipped whole, escapes included) or one bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def openers(raw: bytes) -> int:
    """`{` and `[` bytes: at least the nesting depth of `raw`."""
    return raw.count(b"{") + raw.count(b"[")


def nesting(raw: bytes) -> int:
    """The nesting depth of JSON text `raw` (objects and arrays; a top-level object is 1). No recursion, so any
    depth is measured; text that is not JSON gets a best-effort figure."""
    depth = deepest = 0
    for match in _TOKENS.finditer(raw):
        c = raw[match.start()]
        if c in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
        elif c in _CLOSE:
            depth -= 1
    return deepest


def too_deep(raw: bytes) -> int:
    """The depth of `raw` when it exceeds MAX_DEPTH, else 0 (cheap for the usual, shallow record)."""
    if openers(raw) <= MAX_DEPTH:
        return 0
    depth = nesting(raw)
    return depth if depth > MAX_DEPTH else 0


def too_deep_reason(depth: int) -> str:
    return f"too-deep: nested {depth:,} levels; the lake takes resources nested at most {MAX_DEPTH} levels"
