"""The decision plane end to end: usage and cost on GET /cases/{id}, and a case handed to a
person when its tenant's budget is exhausted (no model call, status HANDED_OFF with reason)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local.emulation import LOCAL_TENANT
from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, finished_case, submit

pytestmark = pytest.mark.slow


def _decision_table(emulation: Any) -> str:
    env = emulation.deployment.functions["decide"].environment
    return str(env["AIOS_DECISION_TABLE"])


def test_case_shows_model_usage_and_cost_by_tier(emulation: Any) -> None:
    process, body = example(emulation.api_url)
    body = {**body, "subject": f"Charged twice {uuid.uuid4().hex[:8]}"}
    case_id = submit(emulation.api_url, process, body).json()["case_id"]
    case = finished_case(emulation.api_url, case_id)
    usage = case["usage"]
    assert case["status"] == "SUCCEEDED", case.get("error")
    assert usage["calls"] == 2 and set(usage["by_tier"]) == {"small", "large"}
    assert usage["cost_usd"] > 0 and usage["input_tokens"] > 0
    assert usage["cache"] == {"hits": 0, "misses": 2}
    assert case["plan"]["usage"] == usage and usage["prompts"]["plan"].startswith(
        "ticket-triage.plan.v1@"
    )


def test_exhausted_budget_hands_the_case_to_a_person(emulation: Any) -> None:
    table = _decision_table(emulation)
    ddb = emulation.client("dynamodb")
    today = datetime.now(UTC).date()
    tenant = LOCAL_TENANT  # an unsigned request is the local developer's, of this tenant
    # Today's and tomorrow's: the case may be decided after midnight (UTC).
    keys = [
        {"item_key": {"S": f"BUDGET#{tenant}#ticket-triage#{day.isoformat()}"}}
        for day in (today, today + timedelta(days=1))
    ]
    for key in keys:
        ddb.put_item(
            TableName=table,
            Item={
                **key,
                "kind": {"S": "budget"},
                "spent_micros": {"N": str(10**12)},
                "spent_tokens": {"N": "0"},
            },
        )
    try:
        process, body = example(emulation.api_url)
        case_id = submit(emulation.api_url, process, {**body, "ticket_id": "T-990001"}).json()[
            "case_id"
        ]

        def handed_off() -> dict[str, Any] | None:
            case = requests.get(f"{emulation.api_url}/cases/{case_id}", timeout=10).json()
            return case if case["status"] not in ("RECEIVED", "RUNNING") else None

        case = wait_for(handed_off, timeout=60, what=f"case {case_id} to be handed off")
    finally:
        for key in keys:
            ddb.delete_item(TableName=table, Key=key)
    assert case["status"] == "HANDED_OFF"
    assert case["handoff"]["reason"] == "BUDGET_EXHAUSTED"
    assert case["actions"] == [] and case["plan"] is None and case["usage"]["calls"] == 0
    audit = requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json()
    types = [e["type"] for e in audit["events"]]
    # Then the handlers are told (handoff.notified): the case waits for a person.
    assert types.index("decision.handed_off") + 1 == types.index("case.handed_off")
    assert audit["chain"]["valid"]
