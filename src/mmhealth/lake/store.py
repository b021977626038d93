"""Where the lake's bytes live: a local folder or an S3 prefix, behind the few operations a run needs (`Store`).

Parts are written locally first (a run's staging folder) and `publish` moves them to their final key; only the
manifest makes them part of the lake, so a published-but-uncommitted part is garbage, never a duplicate. The run
never asks which store it has: what differs (where the lock and staging live, which catalog query engines read)
is the store's to answer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from mmhealth.errors import MMHealthError
from mmhealth.lake.lock import LocalLock, LockLost, Owner, S3Lock
from mmhealth.lake.manifest import MANIFEST_KEY, Manifest

LOCK_KEY = "_lake/lock"
GLUE_PREFIX_ENV = "MMHEALTH_GLUE_DATABASE_PREFIX"  # an S3 lake's Glue databases are named <prefix><database>


class HeldLock(Protocol):
    """The lock a run holds while it writes (`Store.lock(owner)` entered)."""

    @property
    def taken_over(self) -> Owner | None:
        """The stale run whose lock this one took over, if any."""
        ...

    def confirm(self) -> None:
        """Raise `LockLost` unless this run still holds the lake: called right before each commit."""
        ...


class Store(Protocol):
    """The contract between an ingest run (`mmhealth.lake.ingest`) and the place its lake lives."""

    @property
    def uri(self) -> str:
        """The lake as the user named it: a folder path or s3://bucket/prefix."""
        ...

    work: Path  # this lake's local folder: staging parts, scratch files, the local lock

    @property
    def lock_path(self) -> Path:
        """The local file runs on this host flock (on S3, in front of the lease lock every host shares)."""
        ...

    @property
    def staging_root(self) -> Path:
        """Where runs stage their parts, one folder per run id, until the commit moves them."""
        ...

    def lock(self, owner: Owner):
        """A context manager: one writer per lake; entering returns a `HeldLock`."""
        ...

    def read_manifest(self) -> Manifest: ...

    def write_manifest(self, manifest: Manifest) -> None:
        """The commit point: replace the manifest atomically."""
        ...

    def publish(self, local: Path, key: str) -> None:
        """Move a staged part to its final key (it is part of the lake once a manifest names it)."""
        ...

    def fetch(self, key: str, scratch: Path) -> Path:
        """A local path holding the object at `key`."""
        ...

    def delete(self, keys: list[str]) -> None: ...

    def collect_garbage(self, keep: set[str], databases: tuple[str, ...], spare_runs: set[str] = frozenset()) -> int:
        """Delete parts no committed manifest names; returns how many."""
        ...

    def publish_catalog(self, manifest: Manifest) -> None:
        """Make the committed state visible to query engines: lake.duckdb locally, Glue tables on S3."""
        ...


class LocalStore:
    """The lake in a local folder; `_lake/` inside it holds the manifest, the lock and the staging parts."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        for folder in (self.root, self.root / "_lake"):
            if folder.exists() and not folder.is_dir():
                raise MMHealthError(
                    f"{folder}: is a file, not a folder - give --lake a folder (it is created if missing) or "
                    f"s3://bucket/prefix"
                )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise MMHealthError(
                f"{self.root}: a part of this path is a file, not a folder - give --lake a folder path"
            ) from exc
        self.work = self.root / "_lake"
        self.work.mkdir(exist_ok=True)

    @property
    def uri(self) -> str:
        return str(self.root)

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_KEY

    @property
    def staging_root(self) -> Path:
        return self.work / "staging"

    def lock(self, owner: Owner) -> LocalLock:
        return LocalLock(self.lock_path, owner, self.uri)

    def publish_catalog(self, manifest: Manifest) -> None:
        from mmhealth.lake.catalog import build_catalog

        build_catalog(self.root, manifest)

    def path(self, key: str) -> Path:
        return self.root / key

    def read_manifest(self) -> Manifest:
        p = self.path(MANIFEST_KEY)
        return Manifest.from_json(p.read_text()) if p.exists() else Manifest()

    def write_manifest(self, manifest: Manifest) -> None:
        p = self.path(MANIFEST_KEY)
        tmp = p.with_suffix(".json.tmp")
        try:
            with open(tmp, "w") as fh:
                fh.write(manifest.to_json())
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:  # e.g. disk full: the old manifest stays; name the file the run was committing
            tmp.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(p)) from exc
        os.replace(tmp, p)  # the commit point

    def publish(self, local: Path, key: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, dest)

    def fetch(self, key: str, scratch: Path) -> Path:
        return self.path(key)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.path(key).unlink()
            except FileNotFoundError:
                pass

    def collect_garbage(self, keep: set[str], databases: tuple[str, ...], spare_runs: set[str] = frozenset()) -> int:
        """Delete Parquet files under the databases' folders that no committed manifest names (left by a
        killed run) and empty folders. A local lock is never taken over from a live run, so nothing is spared."""
        removed = 0
        for db in databases:
            base = self.root / db
            if not base.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(base, topdown=False):
                for fn in files:
                    full = Path(dirpath) / fn
                    if fn.endswith(".parquet") and full.relative_to(self.root).as_posix() not in keep:
                        full.unlink()
                        removed += 1
                if not os.listdir(dirpath):
                    os.rmdir(dirpath)
        return removed


def parse_s3(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise MMHealthError(f"{uri}: no bucket in the lake URI - use s3://bucket/prefix")
    return bucket, prefix.strip("/")


class S3Store:
    """The lake under s3://bucket/prefix. A local work folder holds staging parts and the run's scratch files.

    The endpoint comes from the environment as boto3 reads it (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`), so
    the same code talks to AWS, to MinIO or to the moto server in tests."""

    def __init__(self, uri: str, work: Path, glue_prefix: str = ""):
        import boto3

        self.bucket, self.prefix = parse_s3(uri)
        self.glue_prefix = glue_prefix
        self.s3 = boto3.client("s3")
        self.manifest_etag: str | None = None  # of the manifest this run read; None: there was none
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "_lake").mkdir(exist_ok=True)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, folder: str) -> str:
        return f"s3://{self.bucket}/{self.key(folder)}/"

    @property
    def lock_path(self) -> Path:
        return self.work / LOCK_KEY

    @property
    def staging_root(self) -> Path:
        return self.work / "staging"

    def lock(self, owner: Owner) -> "_S3Locks":
        return _S3Locks(self, owner)

    def publish_catalog(self, manifest: Manifest) -> None:
        from mmhealth.lake.glue import sync_glue

        sync_glue(self, manifest, self.glue_prefix)

    def read_manifest(self) -> Manifest:
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.key(MANIFEST_KEY))
        except self.s3.exceptions.NoSuchKey:
            self.manifest_etag = None
            return Manifest()
        except self.s3.exceptions.NoSuchBucket as exc:
            raise MMHealthError(f"{self.uri}: bucket does not exist - create it first") from exc
        self.manifest_etag = obj["ETag"]
        return Manifest.from_json(obj["Body"].read().decode())

    def write_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest only if it is still the one this run read (optimistic concurrency on top of the
        lock): whatever happened to the lock, a commit can never overwrite another run's commit."""
        from botocore.exceptions import ClientError

        condition = {"IfMatch": self.manifest_etag} if self.manifest_etag else {"IfNoneMatch": "*"}
        try:
            # One PUT replaces the object atomically: readers see the old or the new manifest, never a mix.
            r = self.s3.put_object(Bucket=self.bucket, Key=self.key(MANIFEST_KEY), Body=manifest.to_json().encode(),
                                   **condition)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404"):
                raise
            theirs = self._last_run()
            raise MMHealthError(
                f"{self.uri}: another run{' (' + theirs + ')' if theirs else ''} committed to this lake while this "
                f"one was running - its commit is kept and nothing more of this run was committed; run ingest again"
            ) from exc
        self.manifest_etag = r["ETag"]

    def _last_run(self) -> str:
        try:
            runs = Manifest.from_json(
                self.s3.get_object(Bucket=self.bucket, Key=self.key(MANIFEST_KEY))["Body"].read().decode()).runs
        except Exception:
            return ""
        return f"run {runs[-1]}" if runs else ""

    def publish(self, local: Path, key: str) -> None:
        self.s3.upload_file(str(local), self.bucket, self.key(key))
        local.unlink()

    def fetch(self, key: str, scratch: Path) -> Path:
        dest = scratch / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(self.bucket, self.key(key), str(dest))
        return dest

    def delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            if chunk:
                self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": self.key(k)} for k in chunk], "Quiet": True}
                )

    def collect_garbage(self, keep: set[str], databases: tuple[str, ...], spare_runs: set[str] = frozenset()) -> int:
        """As LocalStore's, except for the objects of `spare_runs`: the runs whose lock this run took over. Such
        a run may only have stalled, not died, and still be publishing; it cannot commit any more (its lock and
        manifest writes are conditional), and its objects are collected by a later run."""
        stale = []
        # a run's own parts are in its partition; the copies it made of earlier parts are in theirs, named after it
        spared = tuple(m for run in spare_runs for m in (f"/lake_run={run}/", f"/part-{run}-"))
        paginator = self.s3.get_paginator("list_objects_v2")
        for db in databases:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(db) + "/"):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(self.prefix) + 1 :] if self.prefix else obj["Key"]
                    if rel.endswith(".parquet") and rel not in keep and not any(s in rel for s in spared):
                        stale.append(rel)
        self.delete(stale)
        return len(stale)


class _S3Locks:
    """An S3 lake's lock: a flock on the local work folder (runs on one host share it, with its staging files),
    then the S3 lease lock that runs on every host share."""

    def __init__(self, store: S3Store, owner: Owner):
        self.store = store
        self.local = LocalLock(store.lock_path, owner, store.uri)
        self.remote = S3Lock(store.s3, store.bucket, store.key(LOCK_KEY), owner, store.uri)

    @property
    def taken_over(self) -> Owner | None:
        return self.remote.taken_over

    def __enter__(self) -> "_S3Locks":
        self.local.__enter__()
        try:
            self.remote.__enter__()
        except BaseException:
            self.local.__exit__(None, None, None)
            raise
        return self

    def confirm(self) -> None:
        try:
            self.remote.confirm()
        except LockLost:
            if self.remote.lost_to is not None:
                raise
            # The run that took the lock over has finished already: the manifest names it.
            last = self.store._last_run()
            since = f"another run, finished since (the lake's last commit is {last})" if last else "another run"
            raise LockLost(self.remote.lost_message(since)) from None

    def __exit__(self, *exc) -> None:
        try:
            self.remote.__exit__(*exc)
        finally:
            self.local.__exit__(*exc)


def open_store(lake: str, scratch_root: Path | None = None) -> Store:
    if lake.startswith("s3://"):
        import hashlib

        base = scratch_root or Path(os.environ.get("MMHEALTH_CACHE", Path.home() / ".cache" / "mmhealth"))
        work = base / ("s3-" + hashlib.sha256(lake.encode()).hexdigest()[:16])
        return S3Store(lake, work, os.environ.get(GLUE_PREFIX_ENV, ""))
    if "://" in lake:
        raise MMHealthError(f"{lake}: unsupported lake URI - use a local folder or s3://bucket/prefix")
    return LocalStore(Path(lake))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
