from __future__ import annotations

import json

import boto3
import pytest
from aios.capabilities import ActionContext, get_capability
from aios.capabilities.email_send import session_policy
from aios.credentials import assume_capability_role, session_name
from aios.errors import InvalidParams, TerminalActionError
from aios.settings import load_settings


class RecordingSts:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def assume_role(self, **kwargs):
        self.calls.append(kwargs)
        return {"Credentials": {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}}


def test_session_policy_is_limited_to_the_actions_recipients_and_a_short_duration() -> None:
    params = get_capability("email.send").validate_params(
        {"to": ["b@x.io", "a@x.io"], "subject": "s", "text": "t"}
    )
    sts = RecordingSts()
    assume_capability_role(
        "arn:aws:iam::1:role/email", "c-1.p1.a0", session_policy(params, "kit@x.io"), sts=sts
    )
    call = sts.calls[0]
    assert call["DurationSeconds"] <= 900
    assert call["RoleSessionName"] == "aios-c-1.p1.a0"
    statement = json.loads(call["Policy"])["Statement"]
    assert statement == [
        {
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": "*",
            "Condition": {
                "ForAllValues:StringEquals": {"ses:Recipients": ["a@x.io", "b@x.io"]},
                "StringEquals": {"ses:FromAddress": "kit@x.io"},
            },
        }
    ]


def test_session_names_stay_within_sts_rules() -> None:
    assert session_name("c-" + "x" * 100 + "/a b") == ("aios-c-" + "x" * 100)[:64]


def test_bad_recipients_are_invalid_params() -> None:
    with pytest.raises(InvalidParams, match="to"):
        get_capability("email.send").validate_params(
            {"to": ["not-an-address"], "subject": "s", "text": "t"}
        )


def test_email_is_sent_through_ses_with_assumed_credentials(aws) -> None:
    boto3.client("ses").verify_email_identity(EmailAddress="kit@example.com")
    role = boto3.client("iam").create_role(RoleName="email", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    settings = load_settings(
        {
            "AIOS_EMAIL_SENDER": "kit@example.com",
            "AIOS_CAPABILITY_ROLES": json.dumps({"email.send": role}),
        }
    )
    capability = get_capability("email.send")
    params = capability.validate_params(
        {"to": ["ana@example.com"], "subject": "Hi", "text": "Hello"}
    )
    result = capability.execute(params, ActionContext("c-1", "c-1.p1.a0", "e", settings))
    assert result["message_id"] and result["to"] == ["ana@example.com"]
    assert boto3.client("ses").get_send_quota()["SentLast24Hours"] == 1


def test_email_without_a_configured_role_is_terminal(aws) -> None:
    settings = load_settings({"AIOS_EMAIL_SENDER": "kit@example.com"})
    capability = get_capability("email.send")
    params = capability.validate_params(
        {"to": ["ana@example.com"], "subject": "Hi", "text": "Hello"}
    )
    with pytest.raises(TerminalActionError, match="role"):
        capability.execute(params, ActionContext("c-1", "a", "e", settings))
