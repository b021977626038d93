"""The pseudonym key: where it is kept, how it is created and checked, and the keyed hash it defines.

`patient_key` in the marts is a keyed hash of the FHIR patient id. Whoever holds the key and a FHIR id can link a
`patient_key` back to the patient, so the key is a secret and lives in one file, outside the lake and the
repository: `$MMHEALTH_PSEUDONYM_KEY_FILE`, by default `~/.config/mmhealth/pseudonym.key`, one line of hex, mode
0600. dbt never sees the key's value: its SQL names the file and DuckDB reads it when the query runs
(macro `mmh_pseudonym_key_relation`), so the key reaches no compiled SQL, artifact or log. On Athena the same
hex text sits in a one-row table only the dbt role may read. Every tool that needs the key reads this file through
this module. See docs/governance.md ("The pseudonym key") for the threat model.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mmhealth.errors import MMHealthError

KEY_FILE_ENV = "MMHEALTH_PSEUDONYM_KEY_FILE"
DEFAULT_KEY_FILE = "~/.config/mmhealth/pseudonym.key"
KEY_BYTES = 32  # `key init` writes 256 random bits as 64 hex characters
MIN_HEX = 32  # a key file must hold at least 128 bits; the SQL guard (dispatch.sql) checks the same
_KEY = re.compile(rf"[0-9a-fA-F]{{{MIN_HEX},}}")


def key_file(environ: Mapping[str, str] | None = None) -> Path:
    """The key file every tool reads: the environment's `MMHEALTH_PSEUDONYM_KEY_FILE`, else the default.
    dbt resolves the same variable and default (macros/engine/dispatch.sql)."""
    env = os.environ if environ is None else environ
    return Path(os.path.expanduser(env.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)).absolute()


@dataclass(frozen=True)
class KeyFile:
    path: Path
    mode: int
    hex_chars: int


def create_key(path: Path, lake: Path | None = None) -> KeyFile:
    """A new random key in `path`, mode 0600 from the first byte on; never overwrites an existing file (replacing
    the key re-keys every patient: a rotation, which needs a full refresh of the marts)."""
    _refuse_inside_lake(path, lake)
    if path.parent != path:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise MMHealthError(f"{path}: a key file already exists - it is kept (replacing it re-keys every patient; "
                            "to rotate, move it away, run `mmhealth key init` and rebuild with --full-refresh)") from None
    except OSError as exc:
        raise MMHealthError(f"{path}: cannot create the key file ({exc.strerror}) - choose another place with "
                            f"--file or {KEY_FILE_ENV}") from None
    try:
        os.fchmod(fd, 0o600)  # the umask may only have narrowed it; state it exactly
        os.write(fd, (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return check_key_file(path, lake)


def check_key_file(path: Path, lake: Path | None = None) -> KeyFile:
    """The key file is usable: a regular file readable by its owner only, outside the lake, holding one key of
    32+ hex characters. Reports the size of the key, never the key."""
    _refuse_inside_lake(path, lake)
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise MMHealthError(f"{path}: no pseudonym key file - create one with `mmhealth key init` "
                            f"(or point {KEY_FILE_ENV} at the existing key)") from None
    if stat.S_ISLNK(st.st_mode):
        st = path.stat()  # a link to the key (e.g. a mounted secret) is fine; its target must still be private
    if not stat.S_ISREG(st.st_mode):
        raise MMHealthError(f"{path}: not a regular file - {KEY_FILE_ENV} must name the key file itself")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise MMHealthError(f"{path}: mode {mode:04o} lets others read the pseudonym key - `chmod 600 {path}` "
                            "(and treat the key as exposed: rotate it if anyone else could read it)")
    text = _read(path)
    if not _KEY.fullmatch(text):
        raise MMHealthError(f"{path}: not a pseudonym key (one line of {MIN_HEX}+ hex characters) - "
                            "create one with `mmhealth key init`")
    return KeyFile(path, mode, len(text))


def read_key(path: Path | None = None) -> str:
    """The key's hex text, after `check_key_file`. Callers keep it in memory only."""
    path = path or key_file()
    check_key_file(path)
    return _read(path)


def patient_key(key: str, patient_id: str) -> str:
    """`patient_key` of a FHIR patient id, exactly as dbt computes it (macro mmh_patient_key)."""
    inner = hashlib.sha256(f"{key}:{patient_id}".encode()).hexdigest()
    return hashlib.sha256(f"{key}:{inner}".encode()).hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except UnicodeDecodeError:
        return ""  # not hex text: the caller reports it as not a key
    except OSError as exc:
        raise MMHealthError(f"{path}: cannot read the key file ({exc.strerror})") from None


def _refuse_inside_lake(path: Path, lake: Path | None) -> None:
    """The lake is data others read and copy; a key kept beside the data travels with it."""
    if lake is None or "://" in str(lake):
        return
    key, root = path.absolute().resolve(), lake.absolute().resolve()
    if key == root or root in key.parents:
        raise MMHealthError(f"{path}: the pseudonym key file is inside the lake ({lake}) - keep it outside, e.g. "
                            f"{DEFAULT_KEY_FILE} (the default) or wherever {KEY_FILE_ENV} points")
