"""`email.send`: one email through Amazon SES, with credentials narrowed to its recipients.

The executor assumes the capability's role with a session policy that allows `ses:SendEmail`
only from the configured sender and only to this action's recipients. Throttling and service
errors are retryable; a rejected message or address is terminal.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aios.capabilities import ActionContext, Capability, Risk
from aios.credentials import assume_capability_role
from aios.errors import RetryableActionError, TerminalActionError

RETRYABLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure"}
)
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class EmailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, max_length=10)
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(default=None, max_length=200_000)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        import re

        bad = [a for a in value if not re.match(_EMAIL, a) or len(a) > 254]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r}")
        return value


def session_policy(params: EmailParams, sender: str) -> dict[str, Any]:
    """Allow sending from the sender to exactly these recipients, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ses:SendEmail",
                "Resource": "*",
                "Condition": {
                    "ForAllValues:StringEquals": {"ses:Recipients": sorted(params.to)},
                    "StringEquals": {"ses:FromAddress": sender},
                },
            }
        ],
    }


def send(params: EmailParams, ctx: ActionContext) -> dict[str, Any]:
    settings = ctx.settings
    if not settings.email_sender:
        raise TerminalActionError("no sender is configured for email.send")
    session = assume_capability_role(
        settings.capability_roles.get("email.send", ""),
        ctx.action_id,
        session_policy(params, settings.email_sender),
    )
    body: dict[str, Any] = {"Text": {"Data": params.text, "Charset": "UTF-8"}}
    if params.html:
        body["Html"] = {"Data": params.html, "Charset": "UTF-8"}
    try:
        response = session.client("ses").send_email(
            Source=settings.email_sender,
            Destination={"ToAddresses": params.to},
            Message={"Subject": {"Data": params.subject, "Charset": "UTF-8"}, "Body": body},
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in RETRYABLE_CODES:
            raise RetryableActionError(f"SES: {code}") from exc
        raise TerminalActionError(f"SES refused the email: {code}") from exc
    return {"message_id": response["MessageId"], "to": params.to}


CAPABILITY = Capability(
    name="email.send",
    params_model=EmailParams,
    risk=Risk.MEDIUM,
    execute=send,
    description="Send one email through SES to the listed recipients.",
)
