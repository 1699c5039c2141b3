"""Least-privilege ledger: no role may write a key space it does not own, proven by evaluating
the synthesized policies against concrete writes (tests/infra/infra_policy.py)."""

from __future__ import annotations

import pytest
from infra_policy import Request, allowed, ledger_write
from infra_synth import Synth

pytestmark = pytest.mark.slow  # uses the synthesized app

WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
CASE_WRITERS = (
    "api",
    "decide",
    "finalize",
    "approval_request",
    "approvals",
    "approval_reminders",
    "handoff",
    "console",
    "case_reconciler",
)
"""Every function that records something on a case's audit chain."""
EXECUTION_ONLY = {
    "ENTITY#acme/customer-1": "canonical entity state or a uniqueness claim (sk UNIQUE#...)",
    "APPLIED#c1.p1.a0": "an applied-action record",
    "REJECTION#msg-1": "an orphan rejection",
}


def role_of(synth: Synth, name: str) -> str:
    return synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]


def ledger(synth: Synth) -> str:
    return next(
        k
        for k, v in synth.of_type("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "pk"
    )


@pytest.mark.parametrize("name", CASE_WRITERS)
def test_case_writers_write_cases_but_no_entity_applied_record_or_rejection(
    synth: Synth, name: str
) -> None:
    role, table = role_of(synth, name), ledger(synth)
    assert allowed(synth.resources, role, ledger_write("dynamodb:PutItem", table, "CASE#c1"))
    for key, what in EXECUTION_ONLY.items():
        for action in WRITES:
            request = ledger_write(action, table, key)
            assert not allowed(synth.resources, role, request), f"{name} may write {what}"


def test_only_execute_writes_entities_applied_records_and_rejections(synth: Synth) -> None:
    role, table = role_of(synth, "execute"), ledger(synth)
    for key in ("CASE#c1", *EXECUTION_ONLY):
        for action in WRITES:
            assert allowed(synth.resources, role, ledger_write(action, table, key)), key
    # A key space nobody owns (the operators' control record is written by people, not roles).
    assert not allowed(synth.resources, role, ledger_write("dynamodb:PutItem", table, "CONTROL"))


def test_a_write_naming_two_partitions_is_refused_unless_both_are_owned(synth: Synth) -> None:
    """ForAllValues: every leading key of the request must be in the role's key spaces."""
    table = ledger(synth)
    mixed = Request("dynamodb:PutItem", table, {"dynamodb:LeadingKeys": ["CASE#c1", "ENTITY#e"]})
    assert not allowed(synth.resources, role_of(synth, "decide"), mixed)
    assert allowed(synth.resources, role_of(synth, "execute"), mixed)


@pytest.mark.parametrize("name", ["kpis", "case_events", "memory"])
def test_readers_write_nothing_in_the_ledger(synth: Synth, name: str) -> None:
    role, table = role_of(synth, name), ledger(synth)
    for key in ("CASE#c1", *EXECUTION_ONLY):
        assert not allowed(synth.resources, role, ledger_write("dynamodb:PutItem", table, key))


def test_the_evaluator_allows_an_unconditioned_grant_and_honours_a_deny() -> None:
    """Guards the tests above: the evaluator is not simply saying no."""
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:*Item",
                            "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
                        },
                        {
                            "Effect": "Deny",
                            "Action": "dynamodb:DeleteItem",
                            "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
                        },
                    ]
                },
            },
        },
    }
    assert allowed(resources, "Role", ledger_write("dynamodb:PutItem", "Table", "ENTITY#e"))
    assert not allowed(resources, "Role", ledger_write("dynamodb:DeleteItem", "Table", "CASE#c"))
    assert not allowed(resources, "Role", ledger_write("dynamodb:PutItem", "Other", "CASE#c"))
