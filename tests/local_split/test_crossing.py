"""The one crossing the emulation routes between the accounts: a send to the action queue, as
the queue's synthesized resource policy allows it (`local.split.QueuePolicy`)."""

from __future__ import annotations

from typing import Any

from local.split import QueuePolicy

CASE_MACHINE = "arn:aws:iam::111111111111:role/AiosKit-case-machine"
ALLOW_CASE_MACHINE: dict[str, Any] = {
    "Sid": "CaseMachineSendsActions",
    "Effect": "Allow",
    "Action": "sqs:SendMessage",
    "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Condition": {"ArnEquals": {"aws:PrincipalArn": CASE_MACHINE}},
    "Resource": "arn:aws:sqs:us-east-1:222222222222:AiosKit-actions.fifo",
}
DENY_PLAIN_HTTP: dict[str, Any] = {
    "Effect": "Deny",
    "Action": "sqs:*",
    "Principal": {"AWS": "*"},
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def policy(*statements: dict[str, Any]) -> QueuePolicy:
    return QueuePolicy("222222222222", "AiosKit-actions.fifo", {"Statement": list(statements)})


def test_the_case_machines_role_may_send() -> None:
    assert policy(DENY_PLAIN_HTTP, ALLOW_CASE_MACHINE).allows_send("111111111111", CASE_MACHINE)


def test_another_role_of_the_decision_account_may_not() -> None:
    decide = "arn:aws:iam::111111111111:role/AiosKit-decide"
    assert not policy(ALLOW_CASE_MACHINE).allows_send("111111111111", decide)


def test_a_role_of_another_account_may_not() -> None:
    other = "arn:aws:iam::333333333333:role/AiosKit-case-machine"
    assert not policy(ALLOW_CASE_MACHINE).allows_send("333333333333", other)


def test_no_allow_or_a_condition_it_cannot_evaluate_grants_nothing() -> None:
    assert not policy(DENY_PLAIN_HTTP).allows_send("111111111111", CASE_MACHINE)
    other_condition = {**ALLOW_CASE_MACHINE, "Condition": {"StringLike": {"aws:UserAgent": "*"}}}
    assert not policy(other_condition).allows_send("111111111111", CASE_MACHINE)
    receive = {**ALLOW_CASE_MACHINE, "Action": "sqs:ReceiveMessage"}
    assert not policy(receive).allows_send("111111111111", CASE_MACHINE)


def test_a_deny_it_does_not_recognize_wins() -> None:
    deny_all = {"Effect": "Deny", "Action": "sqs:SendMessage", "Principal": {"AWS": "*"}}
    assert not policy(ALLOW_CASE_MACHINE, deny_all).allows_send("111111111111", CASE_MACHINE)
