"""Reminders: the scheduled function, invoked the way EventBridge does, with the event's clock."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.local.test_approvals import LINK, case, links, post, refund
from tests.local.test_end_to_end import finished_case

pytestmark = pytest.mark.slow
DAY = 86400  # the refund-over-50 rule's timeout; its process reminds after half of it


def remind(emulation: Any, at: float) -> list[dict[str, Any]]:
    """Run the reminders function on a scheduled event whose `time` is `at`."""
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "version": "0", "id": "reminder-test", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": stamp, "region": emulation.region,
        "resources": [], "detail": {},
    }  # fmt: skip
    result = emulation.runtime.invoke("approval_reminders", json.dumps(event))
    assert result.function_error is None, result.payload
    return list(json.loads(result.payload)["reminded"])


def reminders_of(emulation: Any, case_id: str) -> list[dict[str, Any]]:
    return [
        m for m in emulation.ses_outbox()
        if m["subject"].startswith("Reminder: ") and f"/approvals/{case_id}." in m["body"]
    ]  # fmt: skip


def test_approvers_are_reminded_once_after_the_policys_share_of_the_timeout(emulation: Any) -> None:
    case_id = refund(emulation, order_id="O-2201")
    [link] = links(emulation, case_id).values()
    approval_id = f"{case_id}.p1.a0"
    requested = time.time()

    early = remind(emulation, requested + 0.4 * DAY)
    assert approval_id not in [r["approval_id"] for r in early]
    assert reminders_of(emulation, case_id) == []

    due = remind(emulation, requested + 0.6 * DAY)
    assert {"approval_id": approval_id, "level": 0, "approvers": ["finance-lead"]} in due
    [mail] = reminders_of(emulation, case_id)
    assert mail["destinations"]["ToAddresses"] == ["lead@finance.example.com"]
    assert "http.post" in mail["subject"] and "/refunds/O-2201" in mail["body"]
    match = LINK.search(mail["body"])
    assert match is not None
    assert requests.get(match.group(1).replace("&amp;", "&"), timeout=10).status_code == 200

    again = remind(emulation, requested + 0.9 * DAY)
    assert approval_id not in [r["approval_id"] for r in again]
    assert len(reminders_of(emulation, case_id)) == 1
    audit = requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json()
    assert [e["type"] for e in audit["events"]].count("approval.reminded") == 1
    assert audit["chain"]["valid"]

    assert case(emulation.api_url, case_id)["status"] == "WAITING_APPROVAL"
    assert post(link, "approve").status_code == 200  # the reminder changed nothing else
    assert finished_case(emulation.api_url, case_id)["status"] == "SUCCEEDED"
