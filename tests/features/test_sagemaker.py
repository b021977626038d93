"""SageMaker Feature Store publishing: the control plane against moto, PutRecord through botocore's Stubber
(moto implements no sagemaker-featurestore-runtime call; the Stubber still checks each request against the real
service model)."""

from __future__ import annotations

import random
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mmhealth.errors import MMHealthError
from mmhealth.features.definition import Feature, FeatureGroupDefinition, definition_from_frame, prepare_frame, records
from mmhealth.features.publish import PublishOptions, publish
from mmhealth.features.sagemaker import ensure_feature_group, ingest, plan_update

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


def _put(stub, group, record):
    stub.add_response("put_record", {}, {"FeatureGroupName": group, "Record": record})


def test_put_record_request_shapes_batching_and_retry_on_throttling(features_frame):
    rt = _client("sagemaker-featurestore-runtime")
    prepared, definition = _definition(features_frame.head(5))
    recs = records(prepared, definition)
    sleeps, batches = [], []
    with Stubber(rt) as stub:
        _put(stub, definition.name, recs[0])
        stub.add_client_error("put_record", "ThrottlingException", "Rate exceeded", http_status_code=400,
                              expected_params={"FeatureGroupName": definition.name, "Record": recs[1]})
        stub.add_client_error("put_record", "ThrottlingException", "Rate exceeded", http_status_code=400,
                              expected_params={"FeatureGroupName": definition.name, "Record": recs[1]})
        for rec in recs[1:]:
            _put(stub, definition.name, rec)
        report = ingest(rt, definition.name, recs, max_workers=1, batch_size=2, base_delay=0.1,
                        sleep=sleeps.append, rng=random.Random(0), progress=batches.append)
        stub.assert_no_pending_responses()
    assert (report.written, report.failed, report.retries) == (5, 0, 2)
    assert batches == [2, 2, 1]
    # Full-jitter exponential backoff: attempt k waits at most base * 2**k.
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def test_retries_are_bounded_and_other_errors_are_not_retried(features_frame):
    rt = _client("sagemaker-featurestore-runtime")
    prepared, definition = _definition(features_frame.head(2))
    recs = records(prepared, definition)
    with Stubber(rt) as stub:
        for _ in range(3):
            stub.add_client_error("put_record", "ThrottlingException", "Rate exceeded", http_status_code=400)
        stub.add_client_error("put_record", "ValidationError", "bad feature value", http_status_code=400)
        report = ingest(rt, definition.name, recs, max_workers=1, max_attempts=3, sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert (report.written, report.failed, report.retries) == (0, 2, 2)
    assert [(i, code) for i, code, _ in report.errors] == [(0, "ThrottlingException"), (1, "ValidationError")]


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
        time.sleep(0.005)
        with self.lock:
            self.active -= 1
        if self.calls % 7 == 0:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutRecord")
        return {}


def test_ingest_concurrency_is_bounded():
    rt = _SlowRuntime()
    recs = [[{"FeatureName": "patient_key", "ValueAsString": str(i)}] for i in range(60)]
    report = ingest(rt, "g", recs, max_workers=3, batch_size=20, sleep=lambda s: None)
    assert report.written == 60 and report.failed == 0 and report.retries > 0
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
    sleeps = []
    report = ingest(rt, "g", [[{"ValueAsString": "no FeatureName"}]], max_workers=1, sleep=sleeps.append)
    assert (report.failed, report.retries, sleeps) == (1, 0, [])
    assert report.errors[0][1] == "ParamValidationError"
