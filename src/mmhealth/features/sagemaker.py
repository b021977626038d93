"""SageMaker Feature Store: create or update the feature group, then ingest records with bounded concurrency.

Create is attempted first and `ResourceInUse` leads to describe + update: it needs no `ListFeatureGroups`
permission and avoids a describe/create race between two publishers. Feature Store can only *add* features to a
group; a removed feature or a changed type is an error that names the fix (publish under a new group name).

Ingestion calls `PutRecord` per record (Feature Store has no batch put) from a thread pool of `max_workers`,
feeding it `batch_size` records at a time so memory and in-flight requests stay bounded. Throttling, transient
server errors and dropped connections are retried by botocore itself (`runtime_client()`: adaptive mode, which
also slows the client down while the service throttles); the report counts the retries botocore made, from each
response's `RetryAttempts`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from mmhealth.errors import MMHealthError
from mmhealth.features.definition import FeatureGroupDefinition

MAX_ATTEMPTS = 6  # per record, the first call included


def runtime_client(session, *, endpoint_url: str | None = None, max_workers: int = 4,
                   max_attempts: int = MAX_ATTEMPTS):
    """The Feature Store runtime client `ingest` expects: botocore's adaptive retries (standard retries plus a
    client-side rate limiter while throttled) and a connection pool as large as the thread pool."""
    # total_max_attempts counts the first call; botocore's max_attempts would count retries only
    config = Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts},
                    max_pool_connections=max(10, max_workers))
    return session.client("sagemaker-featurestore-runtime", endpoint_url=endpoint_url, config=config)


def _retry_attempts(response: dict) -> int:
    return int((response or {}).get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)


@dataclass(frozen=True)
class GroupChange:
    action: str  # created | updated | unchanged
    added: tuple[str, ...] = ()
    arn: str | None = None


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def ensure_feature_group(client, definition: FeatureGroupDefinition, *, role_arn: str | None = None,
                         offline_store: str | None = None, online_store: bool = True,
                         wait_seconds: float = 300.0, poll: float = 5.0,
                         sleep: Callable[[float], None] = time.sleep) -> GroupChange:
    if offline_store and not role_arn:
        raise MMHealthError("--offline-store needs --role-arn: SageMaker writes the offline store with that role")
    if offline_store and not offline_store.startswith("s3://"):
        raise MMHealthError(f"--offline-store {offline_store!r}: expected an s3:// URI")
    request = {
        "FeatureGroupName": definition.name,
        "RecordIdentifierFeatureName": definition.record_identifier,
        "EventTimeFeatureName": definition.event_time,
        "FeatureDefinitions": definition.sagemaker_feature_definitions(),
        "OnlineStoreConfig": {"EnableOnlineStore": online_store},
        "Description": definition.description[:128],
        "Tags": [{"Key": "managed-by", "Value": "mmhealth"}],
    }
    if offline_store:
        request["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": offline_store}, "TableFormat": "Iceberg"}
    if role_arn:
        request["RoleArn"] = role_arn
    try:
        arn = client.create_feature_group(**request)["FeatureGroupArn"]
        _wait_created(client, definition.name, wait_seconds, poll, sleep)
        return GroupChange("created", arn=arn)
    except ClientError as exc:
        if _code(exc) != "ResourceInUse":
            raise MMHealthError(f"SageMaker CreateFeatureGroup {definition.name}: {exc} - check the role and region")
    except BotoCoreError as exc:
        raise MMHealthError(f"SageMaker CreateFeatureGroup {definition.name}: {exc} - check AWS credentials, "
                            "region and endpoint")
    try:
        current = client.describe_feature_group(FeatureGroupName=definition.name)
    except (ClientError, BotoCoreError) as exc:
        raise MMHealthError(f"SageMaker DescribeFeatureGroup {definition.name}: {exc} - check the permissions")
    additions = plan_update(current, definition)
    if not additions:
        return GroupChange("unchanged", arn=current.get("FeatureGroupArn"))
    client.update_feature_group(FeatureGroupName=definition.name, FeatureAdditions=additions)
    _wait_updated(client, definition.name, wait_seconds, poll, sleep)
    return GroupChange("updated", tuple(a["FeatureName"] for a in additions), current.get("FeatureGroupArn"))


def plan_update(current: dict, definition: FeatureGroupDefinition) -> list[dict[str, str]]:
    """FeatureAdditions that bring the existing group to `definition`; raise on changes Feature Store cannot do."""
    name = definition.name
    if current.get("RecordIdentifierFeatureName") != definition.record_identifier or \
            current.get("EventTimeFeatureName") != definition.event_time:
        raise MMHealthError(f"feature group {name}: record identifier or event time differs from the mart - "
                            "publish under a new --feature-group name")
    have = {f["FeatureName"]: f["FeatureType"] for f in current.get("FeatureDefinitions", [])}
    want = {f.name: f.type for f in definition.features}
    changed = sorted(n for n in want if n in have and have[n] != want[n])
    removed = sorted(n for n in have if n not in want)
    if changed or removed:
        raise MMHealthError(f"feature group {name}: features changed type {changed} or were removed {removed}, "
                            "which Feature Store cannot do in place - publish under a new --feature-group name")
    return [{"FeatureName": n, "FeatureType": t} for n, t in want.items() if n not in have]


def _wait_created(client, name, wait_seconds, poll, sleep) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        d = client.describe_feature_group(FeatureGroupName=name)
        status = d.get("FeatureGroupStatus")
        if status == "Created":
            return
        if status in ("CreateFailed", "DeleteFailed", "Deleting"):
            raise MMHealthError(f"feature group {name}: {status} ({d.get('FailureReason', 'no reason given')})")
        if time.monotonic() > deadline:
            raise MMHealthError(f"feature group {name}: still {status} after {wait_seconds:.0f}s - retry later")
        sleep(poll)


def _wait_updated(client, name, wait_seconds, poll, sleep) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        d = client.describe_feature_group(FeatureGroupName=name)
        status = (d.get("LastUpdateStatus") or {}).get("Status", "Successful")
        if status == "Successful":
            return
        if status == "Failed":
            reason = d["LastUpdateStatus"].get("FailureReason", "no reason given")
            raise MMHealthError(f"feature group {name}: update failed ({reason})")
        if time.monotonic() > deadline:
            raise MMHealthError(f"feature group {name}: update still {status} after {wait_seconds:.0f}s")
        sleep(poll)


@dataclass
class IngestReport:
    written: int = 0
    failed: int = 0
    retries: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (record index, code, message), first 20


def ingest(client, group: str, records: list[list[dict[str, str]]], *, max_workers: int = 4, batch_size: int = 500,
           progress: Callable[[int], None] | None = None) -> IngestReport:
    """PutRecord each record once; the client retries (see `runtime_client`). What still fails after botocore's
    last attempt is counted and its first 20 errors kept, never raised: one bad record does not stop the rest."""
    if max_workers < 1 or batch_size < 1:
        raise MMHealthError("--jobs and batch size must be at least 1")
    report = IngestReport()
    lock = threading.Lock()

    def put(index: int, record: list[dict[str, str]]) -> None:
        try:
            response = client.put_record(FeatureGroupName=group, Record=record)
        except ClientError as exc:  # botocore's retries are spent, or the error is not one to retry
            with lock:
                report.retries += _retry_attempts(exc.response)
            _fail(index, _code(exc), exc.response.get("Error", {}).get("Message", ""))
        except ParamValidationError as exc:  # our request is malformed: no call was made
            _fail(index, "ParamValidationError", str(exc))
        except BotoCoreError as exc:  # connection errors that outlived botocore's retries
            _fail(index, type(exc).__name__, str(exc))
        else:
            with lock:
                report.written += 1
                report.retries += _retry_attempts(response)

    def _fail(index: int, code: str, message: str) -> None:
        with lock:
            report.failed += 1
            if len(report.errors) < 20:
                report.errors.append((index, code, message))

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            list(pool.map(lambda item: put(*item), enumerate(batch, start)))
            if progress:
                progress(len(batch))
    return report
