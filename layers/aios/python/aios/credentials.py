"""Short-lived, narrowed credentials for capabilities that touch AWS resources.

The execute function's own role can do little more than assume one role per capability. Each
assumption names the action in its session name and carries a session policy that narrows the
role to the action's own target (one recipient, one key) for a few minutes, so an action can
only ever touch what it was signed for.
"""

from __future__ import annotations

import json
from typing import Any

from aios.errors import TerminalActionError

SESSION_SECONDS = 900  # STS minimum: the credentials outlive one action by minutes at most


def session_name(action_id: str) -> str:
    """STS session names allow [\\w+=,.@-]{2,64}; the action id is kept recognisable."""
    safe = "".join(c if c.isalnum() or c in "+=,.@-" else "-" for c in action_id)
    return f"aios-{safe}"[:64]


def assume_capability_role(
    role_arn: str, action_id: str, session_policy: dict[str, Any], sts: Any = None
) -> Any:
    """A boto3 Session on `role_arn` narrowed by `session_policy`, valid for 15 minutes."""
    import boto3

    from aios import aws

    if not role_arn:
        raise TerminalActionError("no role is configured for this capability")
    client = sts or aws.client("sts")
    response = client.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name(action_id),
        Policy=json.dumps(session_policy, separators=(",", ":")),
        DurationSeconds=SESSION_SECONDS,
    )
    creds = response["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
