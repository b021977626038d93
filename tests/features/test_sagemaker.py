"""SageMaker Feature Store publishing: the control plane against moto; PutRecord (moto implements no
sagemaker-featurestore-runtime call) against a small HTTP endpoint on 127.0.0.1 that answers as the service does,
throttling when told to, so botocore's own retries are what is tested."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import boto3
import pytest
from botocore.stub import Stubber

from mmhealth.errors import MMHealthError
from mmhealth.features.definition import Feature, FeatureGroupDefinition, definition_from_frame, prepare_frame, records
from mmhealth.features.publish import PublishOptions, publish
from mmhealth.features.sagemaker import ensure_feature_group, ingest, plan_update, runtime_client

ROLE = "arn:aws:iam::123456789012:role/feature-store"


def _client(service, endpoint=None):
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _definition(features_frame, name="mmhealth-test"):
    prepared = prepare_frame(features_frame, event_time="2026-11-29T00:00:00Z")
    return prepared, definition_from_frame(prepared, name)


def test_create_then_describe_feature_group_on_moto(moto_reset, features_frame):
    sm = _client("sagemaker", moto_reset)
    _, definition = _definition(features_frame)

    change = ensure_feature_group(sm, definition, role_arn=ROLE, offline_store="s3://lake-bucket/feature-store")

    assert change.action == "created"
    described = sm.describe_feature_group(FeatureGroupName=definition.name)
    assert described["FeatureGroupStatus"] == "Created"
    assert described["RecordIdentifierFeatureName"] == "patient_key"
    assert described["EventTimeFeatureName"] == "event_time"
    assert described["FeatureDefinitions"] == definition.sagemaker_feature_definitions()
    assert described["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == "s3://lake-bucket/feature-store"
    # Publishing the same definition again finds the group and changes nothing.
    assert ensure_feature_group(sm, definition, role_arn=ROLE,
                                offline_store="s3://lake-bucket/feature-store").action == "unchanged"


def test_existing_group_gets_only_new_features_added():
    sm = _client("sagemaker")
    current_defs = [{"FeatureName": "patient_key", "FeatureType": "String"},
                    {"FeatureName": "event_time", "FeatureType": "String"},
                    {"FeatureName": "age", "FeatureType": "Integral"}]
    definition = FeatureGroupDefinition("g", "patient_key", "event_time", (
        Feature("patient_key", "String"), Feature("event_time", "String"), Feature("age", "Integral"),
        Feature("bmi", "Fractional")))
    described = {"FeatureGroupArn": "arn:aws:sagemaker:us-east-1:123456789012:feature-group/g",
                 "FeatureGroupName": "g", "RecordIdentifierFeatureName": "patient_key",
                 "EventTimeFeatureName": "event_time", "FeatureDefinitions": current_defs,
                 "CreationTime": "2026-01-01T00:00:00Z", "FeatureGroupStatus": "Created",
                 "NextToken": ""}  # required in the response model
    with Stubber(sm) as stub:
        stub.add_client_error("create_feature_group", "ResourceInUse", "FeatureGroup g already exists")
        stub.add_response("describe_feature_group", described, {"FeatureGroupName": "g"})
        stub.add_response("update_feature_group", {"FeatureGroupArn": described["FeatureGroupArn"]},
                          {"FeatureGroupName": "g", "FeatureAdditions": [{"FeatureName": "bmi",
                                                                          "FeatureType": "Fractional"}]})
        stub.add_response("describe_feature_group", {**described, "LastUpdateStatus": {"Status": "InProgress"}},
                          {"FeatureGroupName": "g"})
        stub.add_response("describe_feature_group", {**described, "LastUpdateStatus": {"Status": "Successful"}},
                          {"FeatureGroupName": "g"})
        change = ensure_feature_group(sm, definition, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert (change.action, change.added) == ("updated", ("bmi",))


def test_type_change_or_removed_feature_is_refused_with_the_fix():
    definition = FeatureGroupDefinition("g", "patient_key", "event_time", (
        Feature("patient_key", "String"), Feature("event_time", "String"), Feature("age", "Fractional")))
    current = {"RecordIdentifierFeatureName": "patient_key", "EventTimeFeatureName": "event_time",
               "FeatureDefinitions": [{"FeatureName": "patient_key", "FeatureType": "String"},
                                      {"FeatureName": "event_time", "FeatureType": "String"},
                                      {"FeatureName": "age", "FeatureType": "Integral"},
                                      {"FeatureName": "old", "FeatureType": "String"}]}
    with pytest.raises(MMHealthError, match=r"changed type \['age'\] or were removed \['old'\].*new --feature-group"):
        plan_update(current, definition)


class PutRecordEndpoint:
    """PUT /FeatureGroup/<name> as Feature Store answers it: 200 with an empty body, or the rest-json error shape.
    `script` lists the errors to send, one per request, before answering 200 ("ThrottlingException" is retryable
    for botocore, "ValidationException" is not)."""

    def __init__(self, script=()):
        self.script, self.requests, self.lock = list(script), [], threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint.lock:
                    endpoint.requests.append((unquote(self.path), body))
                    error = endpoint.script.pop(0) if endpoint.script else None
                status, payload = (400, {"message": f"{error} from the test"}) if error else (200, {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _runtime(endpoint, max_attempts=6):
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="testing",
                                    aws_secret_access_key="testing")
    return runtime_client(session, endpoint_url=endpoint, max_workers=1, max_attempts=max_attempts)


def test_put_record_request_shapes_batching_and_botocores_retries_on_throttling(features_frame):
    prepared, definition = _definition(features_frame.head(5))
    recs = records(prepared, definition)
    batches = []
    # the 2nd request is throttled twice: botocore retries it (backoff, adaptive rate limit) and counts the retries
    server = PutRecordEndpoint(script=[None, "ThrottlingException", "ThrottlingException"])
    with server as url:
        report = ingest(_runtime(url), definition.name, recs, max_workers=1, batch_size=2, progress=batches.append)
    assert (report.written, report.failed, report.retries) == (5, 0, 2)
    assert batches == [2, 2, 1]
    assert len(server.requests) == 7
    assert {path for path, _ in server.requests} == {f"/FeatureGroup/{definition.name}"}
    sent = [body["Record"] for _, body in server.requests]
    assert sent[1] == sent[2] == sent[3] == recs[1]  # the same record, three times
    assert [sent[0], *sent[3:]] == recs


def test_retries_are_bounded_and_other_errors_are_not_retried(features_frame):
    prepared, definition = _definition(features_frame.head(2))
    recs = records(prepared, definition)
    server = PutRecordEndpoint(script=["ThrottlingException"] * 3 + ["ValidationException"])
    with server as url:
        report = ingest(_runtime(url, max_attempts=3), definition.name, recs, max_workers=1)
    assert (report.written, report.failed, report.retries) == (0, 2, 2)  # 3 attempts for the 1st, 1 for the 2nd
    assert len(server.requests) == 4
    assert [(i, code) for i, code, _ in report.errors] == [(0, "ThrottlingException"), (1, "ValidationException")]


class _SlowRuntime:
    """Counts concurrent PutRecord calls; botocore's Stubber is not meant for concurrent callers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = 0

    def put_record(self, FeatureGroupName, Record):
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
            retried = 1 if self.calls % 7 == 0 else 0  # as if botocore had retried every 7th call once
        time.sleep(0.005)
        with self.lock:
            self.active -= 1
        return {"ResponseMetadata": {"RetryAttempts": retried}}


def test_ingest_concurrency_is_bounded():
    rt = _SlowRuntime()
    recs = [[{"FeatureName": "patient_key", "ValueAsString": str(i)}] for i in range(60)]
    report = ingest(rt, "g", recs, max_workers=3, batch_size=20)
    assert report.written == 60 and report.failed == 0 and report.retries == 60 // 7
    assert 1 < rt.peak <= 3


def test_publish_to_sagemaker_end_to_end(moto_reset, gated_lake, features_frame):
    sm = _client("sagemaker", moto_reset)
    rt = _client("sagemaker-featurestore-runtime")
    opts = PublishOptions(to="sagemaker", lake=gated_lake, checkpoint="features_only", feature_group="cv-features",
                          role_arn=ROLE, offline_store="s3://lake-bucket/fs", max_workers=1)
    with Stubber(rt) as stub:
        for _ in range(len(features_frame)):
            stub.add_response("put_record", {})
        report = publish(opts, features_frame, sagemaker_client=sm, runtime_client=rt)
        stub.assert_no_pending_responses()
    assert (report.group_action, report.written, report.failed) == ("created", len(features_frame), 0)
    assert sm.describe_feature_group(FeatureGroupName="cv-features")["FeatureGroupStatus"] == "Created"


def test_offline_store_without_role_is_refused(features_frame):
    _, definition = _definition(features_frame)
    with pytest.raises(MMHealthError, match="--offline-store needs --role-arn"):
        ensure_feature_group(_client("sagemaker"), definition, offline_store="s3://b/p")


def test_malformed_record_fails_without_retry():
    # botocore validates parameters before sending, so nothing leaves the process (the port is closed anyway).
    rt = _client("sagemaker-featurestore-runtime", "http://127.0.0.1:9")
    report = ingest(rt, "g", [[{"ValueAsString": "no FeatureName"}]], max_workers=1)
    assert (report.failed, report.retries) == (1, 0)
    assert report.errors[0][1] == "ParamValidationError"
