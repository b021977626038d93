"""What the machine refused during a run (disk full, permission denied, a file gone), as one line with the fix.

Python, pyarrow, DuckDB, oxbow and botocore each report these differently: an `OSError` with `errno` and
`filename`, an `OSError` whose errno hides in the text (pyarrow), a `duckdb.IOException` with the path and the C
library's message in the text. `explain` reads all of them; what it does not recognise is left alone (a bug, whose
traceback the developer needs).
"""

from __future__ import annotations

import errno
import getpass
import os
import re
from pathlib import Path

from mmhealth.errors import MMHealthError

# The C library's messages, for errors whose errno only survives as text.
_TEXT = {
    errno.ENOSPC: "No space left on device",
    errno.EDQUOT: "Disk quota exceeded",
    errno.EROFS: "Read-only file system",
    errno.EACCES: "Permission denied",
    errno.EPERM: "Operation not permitted",
    errno.ENOENT: "No such file or directory",
}
_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM)
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


def errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code in _TEXT:
        return code
    text = str(exc)
    for code, message in _TEXT.items():
        if message in text or f"[errno {code}]" in text.lower():
            return code
    return None


def is_full_disk(text: str) -> bool:
    """A message that says the disk is full, whoever wrote it (used on reasons readers put in the quarantine:
    a full disk is never a fault of the input)."""
    return any(_TEXT[c] in text for c in _FULL) or "[errno 28]" in text.lower()


def _path_of(exc: BaseException) -> str | None:
    name = getattr(exc, "filename", None)
    if name:
        return os.fsdecode(name)
    m = _QUOTED_PATH.search(str(exc))
    return m.group(1) if m else None


def _under(path: str | None, folder: Path) -> bool:
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def explain(exc: BaseException, *, lake: str, work: Path | None, source: Path, committed: list[str]) -> MMHealthError | None:
    """The one-line error for `exc`, or None when it is not a refusal of the machine's.

    `work` is the lake's local folder for staging (the lake itself, or the S3 lake's cache folder), `committed`
    the modalities this run committed before it failed (their commits stay)."""
    if lake.startswith("s3://"):
        refused = _s3_refusal(exc, lake)
        if refused is not None:
            return refused
    code = errno_of(exc)
    if code is None:
        return None
    path = _path_of(exc)
    kept = (f"; {', '.join(committed)} committed before that and stay" if committed else "")
    unchanged = f"the lake is as it was after its last commit{kept}"
    if code in _FULL:
        where = path or (str(work) if work else lake)
        if work is not None and not lake.startswith("s3://") and _under(where, work.parent):
            fix = "free space on that disk or give --lake a folder on a larger one"
        elif work is not None and _under(where, work):
            fix = "free space on that disk or set MMHEALTH_CACHE to a folder on a larger one"
        else:
            fix = "free space on that disk"
        return MMHealthError(f"{where}: disk full ({_TEXT[code]}) - {fix}, then run ingest again; {unchanged}")
    if code == errno.EROFS:
        return MMHealthError(f"{path or lake}: read-only file system - give --lake a folder on a writable disk; {unchanged}")
    if code in _DENIED:
        user = _user()
        if _under(path, source):
            return MMHealthError(
                f"{path}: permission denied reading it - give {user} read access (chmod a+r, and a+x on its "
                f"folders) or move it out of SOURCE, then run ingest again; {unchanged}"
            )
        target = path or lake
        return MMHealthError(
            f"{target}: permission denied writing the lake - give {user} write access to {lake} (or choose "
            f"another --lake), then run ingest again; {unchanged}"
        )
    if code == errno.ENOENT and _under(path, source):
        return vanished(path)
    return None


# S3 error codes that mean "your credentials may not do this" rather than a bug.
_S3_DENIED = {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
              "InvalidToken", "TokenRefreshRequired", "403"}


def _s3_refusal(exc: BaseException, lake: str) -> MMHealthError | None:
    """What S3 (or the way to it) refused: a missing bucket, credentials that may not, an endpoint not there."""
    try:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
    except ImportError:
        return None
    if isinstance(exc, NoCredentialsError):
        return MMHealthError(f"{lake}: no AWS credentials found - set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
                             f"AWS_SECRET_ACCESS_KEY) for an identity that may write the lake")
    if isinstance(exc, EndpointConnectionError):
        return MMHealthError(f"{lake}: cannot reach S3 ({exc}) - check the network and AWS_ENDPOINT_URL / "
                             f"AWS_DEFAULT_REGION; the lake is as it was after its last commit")
    if not isinstance(exc, ClientError):
        return None
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    operation = getattr(exc, "operation_name", "a request")
    if code == "NoSuchBucket":
        return MMHealthError(f"{lake}: bucket does not exist - create it first (or correct the bucket name)")
    if code in _S3_DENIED:
        return MMHealthError(
            f"{lake}: S3 refused {operation} ({code}: {message}) - give the identity running mmhealth "
            f"s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the lake's prefix (and Glue rights, "
            f"see docs/ingest.md), or fix its credentials; the lake is as it was after its last commit"
        )
    return None


def vanished(path: str, modality: str | None = None, how: str = "disappeared") -> MMHealthError:
    what = f"nothing of {modality} was committed" if modality else "nothing more was committed"
    return MMHealthError(
        f"{path}: {how} while this run read it - {what} (modalities committed before stay); run ingest again "
        f"once SOURCE holds only complete files (write new files elsewhere and move them into SOURCE when done)"
    )


def _user() -> str:
    try:
        return f"the user running mmhealth ({getpass.getuser()})"
    except Exception:
        return "the user running mmhealth"
