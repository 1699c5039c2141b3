"""No handed-off case is stranded, end to end through the emulation: cases handed off by an
exhausted budget notify their handlers (emulated SES), are listed, and are taken and returned
to automation (SUCCEEDED), acted on by hand (applied once at the receiver, the operator named
on the audit chain), resolved, or cancelled.

Operator moves go through `aios.operator` inside a function's process, as the console calls
them (the console's process when the stack has one, else the handoff function's).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from pydantic import BaseModel

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, receiver_requests, submit

pytestmark = pytest.mark.slow
HANDLER = "lead@support.example.com"  # ticket-triage's policy.handoff handler
ANA = {"username": "ana", "email": "ana@example.com", "groups": frozenset({"operator"})}


def operator(emulation: Any, move: str, *args: Any, **kwargs: Any) -> Any:
    """`aios.operator.<move>(*args, **kwargs)` as the console calls it; models come back as
    dicts, and an error as the domain error it is."""
    function = "console" if "console" in emulation.deployment.functions else "handoff"

    def call() -> Any:
        import aios.operator as library

        if "operator" in kwargs:
            kwargs["operator"] = library.Operator(**kwargs["operator"])
        result = getattr(library, move)(*args, **kwargs)
        if isinstance(result, list):
            return [r.model_dump() if isinstance(r, BaseModel) else r for r in result]
        return result.model_dump() if isinstance(result, BaseModel) else result

    return emulation.runtime.call_in(function, call)


def case(emulation: Any, case_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{emulation.api_url}/cases/{case_id}", timeout=10).json())


def audit(emulation: Any, case_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json())


def status_becomes(emulation: Any, case_id: str, *statuses: str, timeout: float = 60) -> dict:
    def probe() -> dict[str, Any] | None:
        current = case(emulation, case_id)
        return current if current["status"] in statuses else None

    return wait_for(probe, timeout=timeout, what=f"case {case_id} to become {statuses}")


def notice_for(emulation: Any, case_id: str) -> dict[str, Any]:
    """The handoff email to the handler that links to the case in the console."""

    def probe() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in emulation.ses_outbox()
                if m["destinations"]["ToAddresses"] == [HANDLER]
                and f"/console/cases/{case_id}" in m["body"]
            ),
            None,
        )

    return wait_for(probe, timeout=30, what=f"the handoff notice of {case_id}")


def _event(events: list[dict[str, Any]], type_: str) -> dict[str, Any]:
    return next(e for e in events if e["type"] == type_)


@pytest.fixture(scope="module")
def handed_off(emulation: Any) -> Iterator[list[str]]:
    """Four ticket-triage cases handed off by an exhausted budget (the budget is restored
    once they wait, so a case returned to automation can be planned)."""
    table = emulation.deployment.functions["decide"].environment["AIOS_DECISION_TABLE"]
    ddb = emulation.client("dynamodb")
    day = datetime.now(UTC).date().isoformat()
    tenant = emulation.deployment.functions["api"].environment.get("AIOS_TENANT", "default")
    key = {"item_key": {"S": f"BUDGET#{tenant}#ticket-triage#{day}"}}
    spent = {
        "kind": {"S": "budget"},
        "spent_micros": {"N": str(10**12)},
        "spent_tokens": {"N": "0"},
    }
    ddb.put_item(TableName=table, Item={**key, **spent})
    try:
        process, body = example(emulation.api_url)
        ids = []
        for n in range(4):
            ticket = {**body, "ticket_id": f"T-77{n}{uuid.uuid4().int % 10**6:06d}"}
            response = submit(emulation.api_url, process, ticket, key=f"handoff-{uuid.uuid4()}")
            assert response.status_code == 202, response.text
            ids.append(response.json()["case_id"])
        for case_id in ids:
            waiting = status_becomes(emulation, case_id, "HANDED_OFF", "SUCCEEDED", "FAILED")
            assert waiting["status"] == "HANDED_OFF"
            assert waiting["handoff"]["reason"] == "BUDGET_EXHAUSTED"
    finally:
        ddb.delete_item(TableName=table, Key=key)
    yield ids


def test_a_handed_off_case_notifies_its_handlers_and_is_listed(
    emulation: Any, handed_off: list[str]
) -> None:
    latencies = []
    for case_id in handed_off:
        mail = notice_for(emulation, case_id)
        assert "BUDGET_EXHAUSTED" in mail["subject"] and "ticket-triage" in mail["subject"]
        for part in ("Reason", "Input", "Classification", "Model cost so far", "T-77"):
            assert part in mail["body"]
        events = audit(emulation, case_id)["events"]
        handed = datetime.fromisoformat(_event(events, "case.handed_off")["at"])
        notified = wait_for(
            lambda c=case_id: next(
                (e for e in audit(emulation, c)["events"] if e["type"] == "handoff.notified"), None
            ),
            what="handoff.notified",
        )
        assert notified["data"]["notified"] == ["support-lead"]
        latencies.append((datetime.fromisoformat(notified["at"]) - handed).total_seconds())
    print(
        "\nhandoff -> notice in the emulation (case.handed_off to handoff.notified): "
        + ", ".join(f"{1000 * s:.0f} ms" for s in latencies)
    )
    listed = operator(emulation, "list_queue", "handoffs", process="ticket-triage")
    by_id = {e["case_id"]: e for e in listed}
    assert set(handed_off) <= set(by_id)
    entry = by_id[handed_off[0]]
    assert entry["reason"] == "BUDGET_EXHAUSTED" and entry["holder"] is None
    assert entry["sla_seconds"] == 1800 and entry["status"] == "HANDED_OFF"


def test_taken_and_returned_to_automation_with_a_note_it_finishes(
    emulation: Any, handed_off: list[str]
) -> None:
    case_id = handed_off[0]
    taken = operator(emulation, "take", case_id, operator=ANA)
    assert taken["holder"] == "ana"
    listed = operator(emulation, "list_queue", "handoffs")
    assert next(e for e in listed if e["case_id"] == case_id)["holder"] == "ana"
    operator(emulation, "return_to_automation", case_id, operator=ANA, note="budget raised")
    done = status_becomes(emulation, case_id, "SUCCEEDED", "FAILED", "HANDED_OFF")
    assert done["status"] == "SUCCEEDED", done
    assert done["plan"]["plan_id"] == f"{case_id}.p2"
    assert done["plan"]["revision"]["comment"] == "budget raised"
    assert [a["status"] for a in done["actions"]] == ["APPLIED", "APPLIED"]
    chain = audit(emulation, case_id)
    assert chain["chain"]["valid"]
    returned = _event(chain["events"], "operator.returned")
    assert returned["data"]["operator"] == "ana" and returned["data"]["note"] == "budget raised"
    listed = operator(emulation, "list_queue", "handoffs")
    assert case_id not in {e["case_id"] for e in listed}


def test_acted_on_by_hand_the_action_is_applied_once_with_the_operator_on_the_chain(
    emulation: Any, handed_off: list[str]
) -> None:
    case_id = handed_off[1]
    ticket = case(emulation, case_id)["input"]["ticket_id"]
    action = {
        "capability": "http.post",
        "params": {
            "target": "helpdesk",
            "path": f"/tickets/{ticket}/reply",
            "body": {"ticket_id": ticket, "reply": "Refunded the double charge."},
        },
        "reason": "answered by hand",
    }
    operator(emulation, "act_by_hand", case_id, operator=ANA, actions=[action])
    done = status_becomes(emulation, case_id, "SUCCEEDED", "FAILED", "HANDED_OFF")
    assert done["status"] == "SUCCEEDED", done
    [applied] = done["actions"]
    assert applied["status"] == "APPLIED"
    assert applied["attestation"]["type"] == "human"
    assert applied["attestation"]["operator"] == "ana"
    [received] = receiver_requests(emulation, case_id)
    assert received["path"] == f"/helpdesk/tickets/{ticket}/reply"
    assert received["idempotency_key"] == applied["action_id"]
    events = audit(emulation, case_id)
    assert events["chain"]["valid"]
    acted = _event(events["events"], "operator.acted")
    assert acted["data"]["operator"] == "ana" and acted["data"]["actions"][0]["capability"] == (
        "http.post"
    )
    attested = _event(events["events"], "action.attested")
    assert attested["data"]["operator"] == "ana"


def test_resolved_and_cancelled_cases_end_with_who_and_why(
    emulation: Any, handed_off: list[str]
) -> None:
    resolved, cancelled = handed_off[2], handed_off[3]
    page = operator(
        emulation, "resolve", resolved, operator=ANA, outcome="answered by phone", note="called"
    )
    assert page["status"] == "RESOLVED" and page["resolution"]["outcome"] == "answered by phone"
    page = operator(emulation, "cancel", cancelled, operator=ANA, note="duplicate")
    assert page["status"] == "CANCELLED"
    sfn = emulation.client("stepfunctions")
    [machine] = emulation.deployment.state_machines.values()
    for case_id, status in ((resolved, "RESOLVED"), (cancelled, "CANCELLED")):
        assert case(emulation, case_id)["status"] == status
        chain = audit(emulation, case_id)
        assert chain["chain"]["valid"]
        types = [e["type"] for e in chain["events"]]
        assert f"case.{status.lower()}" in types
        arn = next(
            e["executionArn"]
            for e in sfn.list_executions(stateMachineArn=machine)["executions"]
            if e["name"] == case_id
        )
        wait_for(
            lambda a=arn: sfn.describe_execution(executionArn=a)["status"] == "SUCCEEDED",
            what=f"the execution of {case_id} to end",
        )
    assert receiver_requests(emulation, resolved) == []
