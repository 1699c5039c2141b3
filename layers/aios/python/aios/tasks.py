"""Answers to waiting Step Functions tasks (callback tokens), in one place.

A task may stop waiting before its answer arrives (it timed out, its execution ended, the
token was forged): that is an expected race, not an error, so each answer reports whether a
task took it instead of raising.
"""

from __future__ import annotations

import json
from typing import Any

from aios import aws

CAUSE_MAX_CHARS = 32768


def _gone(sfn: Any) -> tuple[type[Exception], ...]:
    return (
        sfn.exceptions.TaskTimedOut,
        sfn.exceptions.InvalidToken,
        sfn.exceptions.TaskDoesNotExist,
    )


def succeed_task(token: str, output: dict[str, Any]) -> bool:
    """Answer the waiting task with `output`; False when no task waits for this token."""
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except _gone(sfn):
        return False
    return True


def fail_task(token: str, error: str, cause: dict[str, Any]) -> bool:
    """Fail the waiting task with `error` (a Step Functions error name); False when none waits."""
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_failure(
            taskToken=token, error=error, cause=json.dumps(cause)[:CAUSE_MAX_CHARS]
        )
    except _gone(sfn):
        return False
    return True
