"""Loopback services on the receiver (idempotency keys, store-then-time-out) and the demo's
story of a case, without the emulation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests

from local.receiver import Receiver
from local.services import discover_services
from local.story import render

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def billing() -> Any:
    [service] = [s for s in discover_services(ROOT) if s.name == "billing"]
    service.clear()
    receiver = Receiver().start()
    receiver.mount(service)
    yield receiver, service
    receiver.stop()
    service.clear()


def test_the_workspace_fakes_are_found_and_mount_their_capabilities() -> None:
    mounts = {s.name: s.mounts for s in discover_services(ROOT)}
    assert mounts == {
        "billing": ("billing.refund", "billing.credit", "billing.change_plan"),
        "crm": ("crm.add_note",),
        "forum": ("forum.reply",),
    }


def test_a_repeated_key_replays_the_first_answer_and_changes_nothing(billing: Any) -> None:
    receiver, service = billing
    url = f"{receiver.url}/billing.refund/orders/O-2001/refunds"
    body = {"amount": 20, "currency": "EUR", "reason": "late"}
    first = requests.post(url, json=body, headers={"Idempotency-Key": "a-1"}, timeout=5)
    again = requests.post(url, json=body, headers={"Idempotency-Key": "a-1"}, timeout=5)
    other = requests.post(
        url, json={**body, "amount": 30}, headers={"Idempotency-Key": "a-1"}, timeout=5
    )
    assert first.status_code == again.status_code == 200
    assert again.json()["refund_id"] == first.json()["refund_id"]
    assert again.json()["idempotent_replay"] is True
    assert other.status_code == 422  # the same key for another request
    assert len(service.orders["O-2001"]["refunds"]) == 1
    over = requests.post(
        url, json={**body, "amount": 101}, headers={"Idempotency-Key": "a-2"}, timeout=5
    )
    assert over.status_code == 400  # only 100 of 120 are left to refund
    assert [r.status for r in receiver.requests] == [200, 200, 422, 400]


def test_a_write_stored_before_its_answer_was_lost_is_answered_from_the_store(
    billing: Any,
) -> None:
    receiver, service = billing
    url = f"{receiver.url}/billing.credit/customers/CU-1001/credits"
    body = {"amount": 10, "currency": "EUR", "reason": "outage"}
    service.delay_after_store("/customers/CU-1001/credits", seconds=1.5)
    # urllib, not requests: this timeout is the fault under test, not a hang guard (tests floor
    # the timeouts of `requests`, see tests/conftest.py)
    caller = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": "c-1"},
    )
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(caller, timeout=0.5)
    assert len(service.customers["CU-1001"]["credits"]) == 1  # stored all the same
    retry = requests.post(url, json=body, headers={"Idempotency-Key": "c-1"}, timeout=5)
    assert retry.json()["idempotent_replay"] is True
    assert len(service.customers["CU-1001"]["credits"]) == 1


CASE = {
    "case_id": "c-1", "process": "customer-ops", "status": "FAILED",
    "input": {"ticket_id": "T-1", "subject": "Refund please", "body": "x" * 300},
    "plan": {"summary": "refund: 2 action(s)",
             "classification": {"intent": "refund", "urgency": "normal", "risk": "medium",
                                "confidence": 0.9}},
    "usage": {"calls": 2, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.0012,
              "model_ids": ["m-1"], "refused": ["action 1: refund-within-paid-amount: ..."]},
    "actions": [
        {"action_id": "c-1.p1.a0", "capability": "crm.add_note", "gate": "auto",
         "status": "APPLIED", "params": {"subject": "ticket"}, "result": {"note_id": "n_1"}},
        {"action_id": "c-1.p1.a1", "capability": "billing.refund", "gate": "approve",
         "status": "REJECTED", "params": {"order_id": "O-1", "amount": 40},
         "error": {"code": "CONSTRAINT_VIOLATED", "rules": ["one-refund-per-order"]}},
    ],
}  # fmt: skip
AUDIT = {
    "chain": {"valid": True, "length": 9, "head": "ab" * 32},
    "events": [
        {"type": "action.applied", "at": "2026-12-01T06:00:00+00:00",
         "data": {"action_id": "c-1.p1.a0", "rules": ["auto: risk low <= medium"]}},
        {"type": "approval.requested", "at": "2026-12-01T06:00:01+00:00",
         "data": {"approval_id": "c-1.p1.a1", "action_id": "c-1.p1.a1",
                  "rule": "refund-over-100", "approvers": ["billing-lead"]}},
        {"type": "approval.decided", "at": "2026-12-01T06:00:03.500000+00:00",
         "data": {"approval_id": "c-1.p1.a1", "approver": "billing-lead",
                  "decision": "approve", "via": "link"}},
    ],
}  # fmt: skip


def test_the_story_says_what_was_decided_who_waited_what_changed_and_what_was_blocked() -> None:
    requests_seen = [
        {"method": "POST", "path": "/crm.add_note/tickets/T-1/notes", "status": 200,
         "idempotency_key": "c-1.p1.a0"},
        {"method": "POST", "path": "/helpdesk/other", "status": 200, "idempotency_key": "c-9.a0"},
    ]  # fmt: skip
    told = render(CASE, AUDIT, requests_seen, elapsed_s=4.2, systems={"crm.add_note": "crm"})
    assert told.splitlines()[0] == "customer-ops · case c-1 · FAILED in 4.2 s"
    assert "Decided   refund (urgency normal, risk medium, confidence 0.90) by m-1" in told
    assert "a first answer was refused before signing: action 1: refund-within-paid" in told
    assert (
        "waited for billing-lead (approval rule refund-over-100); billing-lead approved after 2.5 s via link"
        in told
    )
    assert "blocked by the execution plane: one-refund-per-order (CONSTRAINT_VIOLATED)" in told
    assert "allowed by: auto: risk low <= medium" in told
    assert "crm (crm.add_note)             POST /tickets/T-1/notes -> 200" in told
    assert "/helpdesk/other" not in told  # another case's call
    assert "Cost      2 model calls, 10 tokens in / 5 out, USD 0.001200" in told
    assert "Audit     chain VALID: 9 events" in told
    assert "x" * 100 not in told  # long fields are left out
