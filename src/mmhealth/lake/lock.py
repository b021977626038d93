"""One writer per lake: the lock an ingest run holds from before it reads the manifest until after its last commit.

Two kinds, because a local folder and an S3 prefix offer different atomic primitives:

- `LocalLock`: `flock` on `_lake/lock`. The kernel grants it to one open file at a time and drops it when its
  holder exits, however it exits (kill -9 included), so there is no stale lock to detect or break, and two runs
  starting together can never both take it. The file is never deleted (deleting a lock file lets a third run
  lock a new inode while the second still holds the old one). The holder writes who it is inside, for the
  loser's message only.
- `S3Lock`: an object `_lake/lock` created with `If-None-Match: *` (S3 creates it for exactly one of several
  concurrent writers), holding the owner and a lease. The holder renews the lease from a background thread by
  rewriting the object with `If-Match: <its ETag>`. A lock whose lease ran out (its holder died or stalled) is
  taken over by replacing it with `If-Match: <the stale ETag>`, so of several runs breaking one stale lock only
  one succeeds. Staleness is judged on S3's clock alone (the object's Last-Modified against the Date of the
  response), so clock skew between hosts cannot make a live lock look stale. Before each commit the holder
  renews synchronously (`confirm`): a run that stalled past its lease and was overtaken learns it there and
  commits nothing. The manifest PUT is conditional as well (see `S3Store.write_manifest`), which closes the last
  window: a stall between `confirm` and the PUT longer than the lease.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import errno
import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mmhealth.errors import MMHealthError

EXIT_BUSY = 4  # another run holds the lock: nothing was done, try again later
DEFAULT_LEASE_S = 120.0
LEASE_ENV = "MMHEALTH_LOCK_LEASE_S"


class LakeBusy(MMHealthError):
    """Another run holds the lake's lock."""

    exit_code = EXIT_BUSY


class LockLost(MMHealthError):
    """This run stalled past its lease and another run took the lock: it may not commit any more."""


@dataclass(frozen=True)
class Owner:
    """Who holds a lock. Written inside it so that a run which cannot take the lock can say who has it."""

    run_id: str
    pid: int
    host: str
    started: str  # ISO 8601, UTC

    @classmethod
    def this_process(cls, run_id: str) -> "Owner":
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        return cls(run_id, os.getpid(), socket.gethostname(), now.isoformat().replace("+00:00", "Z"))

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, started {self.started})"


def _owner_from(text: str) -> Owner | None:
    try:
        doc = json.loads(text)
        return Owner(str(doc["run_id"]), int(doc["pid"]), str(doc["host"]), str(doc["started"]))
    except (ValueError, KeyError, TypeError):
        return None


def lease_seconds() -> float:
    raw = os.environ.get(LEASE_ENV)
    if not raw:
        return DEFAULT_LEASE_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise MMHealthError(f"{LEASE_ENV}={raw}: not a positive number of seconds - unset it or give e.g. 120")
    return value


class LocalLock:
    taken_over: Owner | None = None  # a flock is never taken over: the kernel frees it when its holder dies

    def __init__(self, path: Path, owner: Owner, lake: str):
        self.path = path
        self.owner = owner
        self.lake = lake
        self.fd: int | None = None

    def __enter__(self) -> "LocalLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            holder = self._take(fd)
        except BaseException:
            os.close(fd)
            raise
        if holder is not None:
            os.close(fd)
            raise LakeBusy(
                f"{self.lake}: another ingest is writing this lake: {holder} - wait for it to finish and run again "
                f"(its lock is released when it ends, even if it is killed)"
            )
        name = json.dumps(asdict(self.owner)).encode()
        os.pwrite(fd, name, 0)  # over the old content, then cut: a reader never sees an empty file while we hold it
        os.ftruncate(fd, len(name))
        self.fd = fd
        return self

    def _take(self, fd: int) -> str | None:
        """Take the flock (None) or say who holds it. The holder writes its name right after taking the lock, so
        a name that is missing, or names a process of this host that is gone (left by an earlier holder), means
        the holder is just starting - or just ending: look again, and try the lock again, for up to a second."""
        import fcntl

        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return None
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise MMHealthError(
                        f"{self.path}: this filesystem does not support file locks ({exc.strerror}) - put the lake "
                        f"on a local disk or NFS with locking, or use an s3:// lake"
                    ) from exc
                raise
            owner = _owner_from(os.pread(fd, 4096, 0).decode(errors="replace"))
            fresh = owner is not None and (owner.host != socket.gethostname() or _alive(owner.pid))
            if fresh or time.monotonic() > deadline:
                return owner.describe() if owner else "a run that has not written its name yet"
            time.sleep(0.02)

    def confirm(self) -> None:
        """Nothing to check: a flock cannot be taken away from a live holder."""

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # the next loser should not name a run that has ended
            os.close(self.fd)  # releases the flock
            self.fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""


# S3 answers a failed condition with 412; two conditional writes racing on one key may get 409 instead.
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_GONE = {"NoSuchKey", "404"}


class S3Lock:
    """The lease lock at s3://bucket/<prefix>/_lake/lock (see the module docstring)."""

    ATTEMPTS = 5

    def __init__(self, s3, bucket: str, key: str, owner: Owner, lake: str, lease_s: float | None = None):
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.owner = owner
        self.lake = lake
        self.lease_s = lease_s if lease_s is not None else lease_seconds()
        self.etag: str | None = None
        self.taken_over: Owner | None = None  # the owner of the stale lock this run replaced, if any
        self._valid_until = 0.0  # monotonic time until which the lease is certainly ours
        self._lost = False
        self.lost_to: str | None = None  # who took the lock over from this run, if it still holds it
        self._stop = threading.Event()
        self._mutex = threading.Lock()  # renewals from the heartbeat and from confirm() never interleave
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return json.dumps({**asdict(self.owner), "lease_s": self.lease_s}).encode()

    def __enter__(self) -> "S3Lock":
        from botocore.exceptions import ClientError

        holder = None
        for _ in range(self.ATTEMPTS):
            sent = time.monotonic()
            try:
                self._took(self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(), IfNoneMatch="*"), sent)
                return self
            except ClientError as exc:
                if _code(exc) not in _LOST_RACE:
                    raise
            try:
                obj = self.s3.get_object(Bucket=self.bucket, Key=self.key)
            except ClientError as exc:
                if _code(exc) in _GONE:
                    continue  # released between our two calls: try to create it again
                raise
            body = obj["Body"].read().decode(errors="replace")
            holder = _owner_from(body)
            expires = _expiry(obj, body)
            now = _server_time(obj)
            if expires is None or now is None or now <= expires:
                until = f", lease until {_iso(expires)}" if expires else ""
                raise LakeBusy(
                    f"{self.lake}: another ingest is writing this lake: "
                    f"{holder.describe() if holder else 'an unreadable lock ' + repr(body[:80])}{until} - wait for "
                    f"it to finish and run again (a lock whose holder died is taken over once its lease ends)"
                )
            sent = time.monotonic()
            try:
                self._took(self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(),
                                              IfMatch=obj["ETag"]), sent)
                self.taken_over = holder
                return self
            except ClientError as exc:
                if _code(exc) not in _LOST_RACE | _GONE:
                    raise
                # another run broke or released the stale lock first: look again
        raise LakeBusy(
            f"{self.lake}: could not take the lake lock after {self.ATTEMPTS} attempts (last holder: "
            f"{holder.describe() if holder else 'unknown'}) - another ingest is starting; run again later"
        )

    def _took(self, response: dict, sent: float) -> None:
        self.etag = response["ETag"]
        # S3 stamps Last-Modified after it received the request, so the lease runs at least until sent + lease.
        self._valid_until = sent + self.lease_s
        self._thread = threading.Thread(target=self._heartbeat, name="mmhealth-lake-lock", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        from botocore.exceptions import ClientError

        with self._mutex:
            if self._lost:
                return
            sent = time.monotonic()
            try:
                r = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(), IfMatch=self.etag)
            except ClientError as exc:
                if _code(exc) in _LOST_RACE | _GONE:
                    self._lost = True
                    self.lost_to = self._who_has_it()
                    return
                raise
            self.etag = r["ETag"]
            self._valid_until = sent + self.lease_s

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self._renew()
            except Exception:  # a network hiccup: the next beat tries again; confirm() decides before a commit
                pass
            if self._lost:
                return

    def _who_has_it(self) -> str | None:
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        except Exception:
            return None  # the run that took it over has released it already
        owner = _owner_from(obj["Body"].read().decode(errors="replace"))
        return owner.describe() if owner else "an unknown run"

    def lost_message(self, winner: str) -> str:
        return (
            f"{self.lake}: this run ({self.owner.run_id}) stalled longer than its {self.lease_s:g} s lease and the "
            f"lake lock went to {winner} - nothing more of this run was committed (what it committed earlier "
            f"stays); run ingest again"
        )

    def confirm(self) -> None:
        """Renew now and fail unless this run still holds the lock: called right before every commit."""
        try:
            self._renew()
        except Exception as exc:
            raise MMHealthError(
                f"{self.lake}: cannot renew the lake lock ({exc}) - nothing more was committed; run again"
            ) from exc
        if self._lost or time.monotonic() > self._valid_until:
            raise LockLost(self.lost_message(self.lost_to or "another run"))

    def __exit__(self, *exc) -> None:
        from botocore.exceptions import ClientError

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._mutex:
            if self._lost or self.etag is None:
                return  # it is someone else's lock now: never delete it
            try:
                try:
                    self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
                except ClientError as exc:  # 412/404: not ours any more, leave it
                    if _code(exc) in ("NotImplemented", "501"):  # an S3 without conditional deletes
                        self._delete_if_ours()
            except Exception:
                # Not released (network): the lease runs out on its own and the next run takes the lock over.
                # Raising here would only hide the run's own outcome (or the error it is already ending with).
                pass
            self.etag = None

    def _delete_if_ours(self) -> None:
        obj = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        if obj["ETag"] == self.etag:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key)


def _expiry(obj: dict, body: str) -> dt.datetime | None:
    try:
        lease = float(json.loads(body)["lease_s"])
    except (ValueError, KeyError, TypeError):
        lease = DEFAULT_LEASE_S  # a lock written by hand or by another tool: the default lease applies
    # Last-Modified has one-second resolution: one second of margin so a just-renewed lock never looks stale.
    return obj["LastModified"] + dt.timedelta(seconds=lease + 1)


def _server_time(obj: dict) -> dt.datetime | None:
    date = obj.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    return email.utils.parsedate_to_datetime(date) if date else None


def _iso(t: dt.datetime | None) -> str:
    return t.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z") if t else "?"
