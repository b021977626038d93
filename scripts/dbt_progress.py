"""Filter dbt's console output for the demo: what a reader needs, not a line per model and test.

Reads dbt's text output on stdin. Per-node START / OK / PASS lines become one progress line - redrawn in place
only when stderr is a terminal, so a log gets no carriage returns. Everything else passes through: the header
(dbt and adapter versions, what was found), every WARN / ERROR / FAIL / SKIP node line, the warnings and errors
dbt explains at the end, and its summary line `Done. PASS=... WARN=... ERROR=... SKIP=... TOTAL=...`.
dbt's own log (logs/dbt.log) keeps every line. The exit status is dbt's: run it under `set -o pipefail`.
"""

from __future__ import annotations

import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NODE = re.compile(r"^\S*\s*(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")
QUIET_STATUSES = {"START", "OK", "PASS", "NO-OP"}


def main() -> int:
    tty = sys.stderr.isatty()
    drawn = False
    done = 0
    for line in sys.stdin:
        m = NODE.match(ANSI.sub("", line))
        if m and m.group(3) != "START":
            done += 1
        if m and m.group(3) in QUIET_STATUSES:
            if m.group(3) != "START":
                if tty:
                    sys.stderr.write(f"\r  dbt: {done} of {m.group(2)} nodes done")
                    sys.stderr.flush()
                    drawn = True
            continue
        if drawn:  # clear the progress line before a line that stays
            sys.stderr.write("\r\033[K")
            drawn = False
        sys.stdout.write(line)
        sys.stdout.flush()
    if drawn:
        sys.stderr.write("\r\033[K")
    return 0


if __name__ == "__main__":
    sys.exit(main())
