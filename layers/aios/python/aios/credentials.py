"""Short-lived, narrowed credentials for capabilities that touch AWS resources.

The execute function's own role can do little more than assume one role per capability. Each
assumption names the action in its session name and carries a session policy that narrows the
role to the action's own target (one recipient, one key) for a few minutes, so an action can
only ever touch what it was signed for.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from aios.errors import TerminalActionError

if TYPE_CHECKING:
    from aios.capabilities import Capability
    from aios.settings import Settings

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


def role_policy(capability: Capability, role_arn: str, secret_arn: str = "") -> dict[str, Any]:
    """The capability's declared statements as a policy document, placeholders resolved from
    the role's ARN and the region, plus reading its own secret when it has one."""
    parts = role_arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) > 4 else ("aws", "")
    region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", ""))
    statements = [s.resolved(partition, region, account) for s in capability.iam]
    if secret_arn:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [secret_arn],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def capability_session(
    capability: Capability,
    settings: Settings,
    action_id: str,
    session_policy: dict[str, Any] | None = None,
) -> Any:
    """A session on the capability's own role for one action, narrowed by `session_policy` or
    by what the capability declared (`role_policy`)."""
    role_arn = settings.capability_roles.get(capability.name, "")
    policy = session_policy or role_policy(
        capability, role_arn, settings.capability_secrets.get(capability.name, "")
    )
    return assume_capability_role(role_arn, action_id, policy)
