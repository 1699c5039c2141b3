"""`customer-ops` end to end through the emulation, against its loopback billing, CRM and forum.

Each test takes its own customer and order (seeded in the billing fake), so they share the
package's emulation without sharing state: the happy path, the approval path (through the demo's
own driver and story), a billing rule broken by two concurrent tickets and blocked by the
execution plane (recorded with the rule's name), a resent ticket that refunds nothing twice, and
a refund call that times out after billing stored it (the retry is answered from billing's
idempotency record: one refund).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import finished_case, submit

pytestmark = pytest.mark.slow
PROCESS = "customer-ops"
END = ("SUCCEEDED", "FAILED", "HANDED_OFF")


def _ticket(n: int, paid: float = 40.0, **changes: Any) -> dict[str, Any]:
    return {
        "ticket_id": f"T-{n}", "customer_id": f"CU-{n}", "customer_email": f"c{n}@example.com",
        "thread_id": f"F-{n}", "subject": "Parcel never arrived",
        "body": "The parcel never arrived; please refund my order.",
        "account": {"plan": "basic", "currency": "USD"},
        "order": {"order_id": f"O-{n}", "paid_amount": paid, "currency": "USD"},
        **changes,
    }  # fmt: skip


def _open(emulation: Any, ticket: dict[str, Any], seed: bool = True) -> str:
    """Submit the ticket, first giving billing its order (`seed`)."""
    order = ticket["order"]
    if seed:
        emulation.service("billing").seed_order(
            order["order_id"], customer_id=ticket["customer_id"],
            paid_amount=order["paid_amount"], currency=order["currency"],
        )  # fmt: skip
    response = submit(emulation.api_url, PROCESS, ticket, key=f"co-{uuid.uuid4()}")
    assert response.status_code == 202, response.text
    return str(response.json()["case_id"])


def _end(emulation: Any, case_id: str, timeout: float = 150) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        case = requests.get(f"{emulation.api_url}/cases/{case_id}", timeout=10).json()
        return case if case["status"] in END else None

    return wait_for(probe, timeout=timeout, what=f"case {case_id} to end")


def _audit(emulation: Any, case_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json())


def _refunds(emulation: Any, order_id: str) -> list[dict[str, Any]]:
    return list(emulation.service("billing").orders[order_id]["refunds"])


def test_refund_within_the_rules_runs_on_its_own_and_records_the_rules(emulation: Any) -> None:
    case_id = _open(emulation, _ticket(61001))
    case = finished_case(emulation.api_url, case_id, timeout=150)
    assert case["status"] == "SUCCEEDED", case.get("error")
    note, refund, reply = case["actions"]
    assert [a["capability"] for a in case["actions"]] == [
        "crm.add_note", "billing.refund", "forum.reply",
    ]  # fmt: skip
    assert {a["gate"] for a in case["actions"]} == {"auto"}
    assert _refunds(emulation, "O-61001") == [
        {"refund_id": "re_1_O-61001", "amount": 40.0, "currency": "USD",
         "reason": "Parcel never arrived"},
    ]  # fmt: skip
    assert emulation.service("crm").notes["tickets/T-61001"][0]["text"].startswith("customer-ops")
    assert len(emulation.service("forum").threads["F-61001"]) == 1
    applied = {
        e["data"]["action_id"]: e["data"]["rules"]
        for e in _audit(emulation, case_id)["events"]
        if e["type"] == "action.applied"
    }
    assert applied[refund["action_id"]] == [
        "auto: risk medium <= medium", "refund-for-the-ticket-order",
        "refund-within-paid-amount", "refund-currency-matches-order", "one-refund-per-order",
    ]  # fmt: skip
    assert applied[note["action_id"]][0] == "auto: risk low <= medium"
    assert applied[reply["action_id"]] == [
        "auto: risk medium <= medium",
        "reply-in-the-ticket-thread",
    ]


def test_a_resent_ticket_refunds_nothing_twice(emulation: Any) -> None:
    ticket = _ticket(61002)
    first = finished_case(emulation.api_url, _open(emulation, ticket), timeout=150)
    assert first["status"] == "SUCCEEDED", first.get("error")
    again = _end(emulation, _open(emulation, ticket, seed=False))
    assert again["status"] == "HANDED_OFF"
    assert again["handoff"]["reason"] == "CONSTRAINT_VIOLATED"
    assert "one-refund-per-order" in again["handoff"]["detail"]
    assert len(_refunds(emulation, "O-61002")) == 1


def test_large_refund_waits_for_the_billing_lead_and_the_demo_tells_it(emulation: Any) -> None:
    """The demo's driver approves by the emailed link, as the approver would."""
    from local import cli, story

    ticket = _ticket(61003, paid=150.0)
    emulation.service("billing").seed_order(
        "O-61003", customer_id="CU-61003", paid_amount=150.0, currency="USD"
    )  # the demo's driver submits the ticket itself
    example = {"name": PROCESS, "example_input": ticket}
    case_id, case, elapsed = cli._run_case(emulation, example, deadline_s=180)
    assert case["status"] == "SUCCEEDED", case.get("error")
    refund = case["actions"][1]
    assert refund["gate"] == "approve"
    assert refund["attestation"]["approvers"] == ["billing-lead"]
    assert [r["amount"] for r in _refunds(emulation, "O-61003")] == [150.0]
    systems = {"billing.refund": "billing"}
    seen = [vars(r) for r in emulation.receiver.requests]
    told = story.render(case, _audit(emulation, case_id), seen, elapsed, systems)
    assert "waited for billing-lead (approval rule refund-over-100); billing-lead approved" in told
    assert (
        "allowed by: approval refund-over-100 by billing-lead; refund-for-the-ticket-order" in told
    )
    assert "billing (billing.refund)       POST /orders/O-61003/refunds -> 200" in told
    assert "Audit     chain VALID" in told


def test_two_tickets_for_one_order_get_one_refund_the_execution_plane_blocks_the_other(
    emulation: Any,
) -> None:
    """Both plans pass the decision plane (nothing was refunded yet when they were made); the
    execution plane claims the order's one refund for the first and refuses the second, naming
    the rule, before billing is called."""
    execute = emulation.event_source("execute")
    execute.disable()
    try:
        first = _ticket(61004)
        second = {**first, "ticket_id": "T-61005", "subject": "Where is my parcel?"}
        ids = [_open(emulation, first), _open(emulation, second, seed=False)]

        def signed() -> bool:
            views = [requests.get(f"{emulation.api_url}/cases/{c}", timeout=10).json() for c in ids]
            return all(v.get("plan") and len(v["actions"]) == 3 for v in views)

        wait_for(signed, timeout=120, what="both plans signed")
    finally:
        execute.enable()
    cases = [finished_case(emulation.api_url, c, timeout=180) for c in ids]
    assert sorted(c["status"] for c in cases) == ["FAILED", "SUCCEEDED"]
    [blocked] = [c for c in cases if c["status"] == "FAILED"]
    refund = blocked["actions"][1]
    assert refund["status"] == "REJECTED"
    assert refund["error"]["code"] == "CONSTRAINT_VIOLATED"
    assert refund["error"]["rules"] == ["one-refund-per-order"]
    rejected = [e for e in _audit(emulation, blocked["case_id"])["events"]
                if e["type"] == "action.rejected"]  # fmt: skip
    assert rejected[0]["data"]["rules"] == ["one-refund-per-order"]
    assert len(_refunds(emulation, "O-61004")) == 1


def test_refund_that_timed_out_after_billing_stored_it_is_not_refunded_again(
    emulation: Any,
) -> None:
    billing = emulation.service("billing")
    billing.delay_after_store("/orders/O-61006/refunds", seconds=6.5)
    case_id = _open(emulation, _ticket(61006))
    case = finished_case(emulation.api_url, case_id, timeout=180)
    assert case["status"] == "SUCCEEDED", case.get("error")
    calls = [r for r in emulation.receiver.requests if r.path.endswith("/orders/O-61006/refunds")]
    assert len(calls) >= 2 and len({r.idempotency_key for r in calls}) == 1  # retried, one key
    assert len(_refunds(emulation, "O-61006")) == 1
    assert case["actions"][1]["result"]["refund_id"] == "re_1_O-61006"


def test_credits_past_the_monthly_cap_are_blocked_by_the_execution_plane(emulation: Any) -> None:
    """Three credits of 20 decided before any ran: each passes Decide (nothing counted yet);
    Execute counts them in the customer's monthly total and refuses the one that would pass 50."""
    emulation.service("billing").seed_customer("CU-61010", plan="pro", currency="EUR")
    ticket = {
        "customer_id": "CU-61010", "customer_email": "c61010@example.com",
        "subject": "Outage", "body": "Your outage cost us the morning; a credit of 20 EUR please.",
        "account": {"plan": "pro", "currency": "EUR"},
    }  # fmt: skip
    execute = emulation.event_source("execute")
    execute.disable()
    try:
        ids = []
        for n in range(3):
            body = {**ticket, "ticket_id": f"T-6101{n}"}
            response = submit(emulation.api_url, PROCESS, body, key=f"co-{uuid.uuid4()}")
            ids.append(response.json()["case_id"])

        def signed() -> bool:
            views = [requests.get(f"{emulation.api_url}/cases/{c}", timeout=10).json() for c in ids]
            return all(v.get("plan") and len(v["actions"]) == 2 for v in views)

        wait_for(signed, timeout=120, what="three plans signed")
    finally:
        execute.enable()
    cases = [finished_case(emulation.api_url, c, timeout=180) for c in ids]
    assert sorted(c["status"] for c in cases) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    [blocked] = [c["actions"][1] for c in cases if c["status"] == "FAILED"]
    assert blocked["status"] == "REJECTED"
    assert blocked["error"]["rules"] == ["credits-capped-per-customer-per-month"]
    credits = emulation.service("billing").customers["CU-61010"]["credits"]
    assert [c["amount"] for c in credits] == [20.0, 20.0]
