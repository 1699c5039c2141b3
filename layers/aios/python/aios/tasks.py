"""Answers to waiting Step Functions tasks (callback tokens), in one place.

A task may stop waiting before its answer arrives (it timed out, its execution ended, the
token was forged): that is an expected race, not an error, so each answer reports whether a
task took it instead of raising.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aios import aws

CAUSE_MAX_CHARS = 32768
REFRESH_MARGIN_SECONDS = 300

_answer_role: tuple[str, str] | None = None
_answer_client: tuple[Any, float] | None = None


def answer_through(role_arn: str, region: str) -> None:
    """Answer tasks through `role_arn` (the decision account's task answer role) in `region`:
    the execution plane on its own has no Step Functions permission of its own."""
    global _answer_role, _answer_client
    _answer_role = (role_arn, region) if role_arn else None
    _answer_client = None


def _client() -> Any:
    """The Step Functions client answers go through: the environment's, or one on the task
    answer role, assumed again a few minutes before its credentials expire."""
    global _answer_client
    if _answer_role is None:
        return aws.client("stepfunctions")
    if _answer_client is not None and _answer_client[1] - REFRESH_MARGIN_SECONDS > time.time():
        return _answer_client[0]
    import boto3

    role_arn, region = _answer_role
    creds = aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="aios-task-answers")[
        "Credentials"
    ]
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region or None,
    )
    client = session.client("stepfunctions", config=aws.CONFIG)
    _answer_client = (client, creds["Expiration"].timestamp())
    return client


def _gone(sfn: Any) -> tuple[type[Exception], ...]:
    return (
        sfn.exceptions.TaskTimedOut,
        sfn.exceptions.InvalidToken,
        sfn.exceptions.TaskDoesNotExist,
    )


def succeed_task(token: str, output: dict[str, Any] | list[dict[str, Any]]) -> bool:
    """Answer the waiting task with `output`; False when no task waits for this token."""
    sfn = _client()
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except _gone(sfn):
        return False
    return True


def fail_task(token: str, error: str, cause: dict[str, Any]) -> bool:
    """Fail the waiting task with `error` (a Step Functions error name); False when none waits."""
    sfn = _client()
    try:
        sfn.send_task_failure(
            taskToken=token, error=error, cause=json.dumps(cause)[:CAUSE_MAX_CHARS]
        )
    except _gone(sfn):
        return False
    return True
