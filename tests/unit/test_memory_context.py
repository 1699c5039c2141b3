"""Ephemeral context: large values travel as S3 claim checks, redeemed intact or not at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aios.errors import ClaimCheckError
from aios.memory.context import (
    CLAIM,
    check_in,
    check_in_case_input,
    check_out,
    check_out_case_input,
)
from moto import mock_aws


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="context")
        yield client


def test_a_small_value_stays_inline(s3: Any) -> None:
    value = {"body": "short"}
    assert (
        check_in(value, s3=s3, bucket="context", key="cases/c1/input.json", max_bytes=1024) == value
    )
    assert s3.list_objects_v2(Bucket="context").get("KeyCount") == 0


def test_a_large_value_travels_as_a_claim_check_and_comes_back_equal(s3: Any) -> None:
    value = {"body": "x" * 5000, "n": [1, 2, 3]}
    claim = check_in(value, s3=s3, bucket="context", key="cases/c1/input.json", max_bytes=1024)
    assert set(claim) == {CLAIM} and claim[CLAIM]["bytes"] > 1024
    assert len(json.dumps(claim)) < 300  # what the state carries instead
    assert check_out(claim, s3=s3) == value
    assert (
        check_in(claim, s3=s3, bucket="context", key="other", max_bytes=1) == claim
    )  # no double check-in


def test_a_tampered_or_missing_claim_is_refused(s3: Any) -> None:
    claim = check_in(
        {"body": "y" * 4000}, s3=s3, bucket="context", key="cases/c2/input.json", max_bytes=100
    )
    s3.put_object(Bucket="context", Key="cases/c2/input.json", Body=b'{"body": "forged"}')
    with pytest.raises(ClaimCheckError, match="digest"):
        check_out(claim, s3=s3)
    s3.delete_object(Bucket="context", Key="cases/c2/input.json")
    with pytest.raises(ClaimCheckError, match="cannot be read"):
        check_out(claim, s3=s3)


def test_case_input_claim_checks_follow_the_environment(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution = {"case_id": "c3", "tenant": "t", "process": "p", "input": {"body": "z" * 3000}}
    monkeypatch.delenv("AIOS_CONTEXT_BUCKET", raising=False)
    assert check_in_case_input(execution, s3) == execution  # no bucket: claim checks off
    monkeypatch.setenv("AIOS_CONTEXT_BUCKET", "context")
    monkeypatch.setenv("AIOS_CONTEXT_MAX_BYTES", "1024")
    claimed = check_in_case_input(execution, s3)
    assert claimed["input"][CLAIM]["key"] == "cases/c3/input.json" and claimed["case_id"] == "c3"
    assert check_out_case_input(claimed, s3) == execution
