"""Fixtures for the governance tests: the fixture policy and manifest, and Lake Formation clients on moto."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def loaded():
    """(policy, catalog) of the fixture policy over the fixture manifest, validated."""
    from mmhealth.governance.validate import validate

    policy, catalog, _ = validate(FIXTURES / "policy.yml", FIXTURES / "manifest.json")
    return policy, catalog


def lf_client(endpoint: str):
    import boto3
    from botocore.config import Config

    # One attempt: moto answers 500 for resources it never tagged, and retries would only slow the tests.
    return boto3.client("lakeformation", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.fixture()
def lf(moto_reset):
    return lf_client(moto_reset)
