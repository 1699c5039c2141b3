"""A process and a custom capability that live only in processes/ and capabilities/, end to end.

`contact-update` (processes/contact-update/process.yaml) uses `crm.update_contact`
(capabilities/crm.py). In the emulation the capability's base URL points at the loopback
receiver (which keeps the contact's fields), and its API key is the one seeded into the
capability's own secret, read through the capability's role.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.local.test_end_to_end import finished_case, submit

pytestmark = pytest.mark.slow

PATH = "/crm.update_contact/contacts/{contact}"


def test_the_users_process_and_capability_run_end_to_end(emulation: Any) -> None:
    api, receiver = emulation.api_url, emulation.receiver
    contact = f"C-{uuid.uuid4().int % 10**9}"
    path = PATH.format(contact=contact)
    seeded = requests.put(
        f"{emulation.receiver_url}{path}",
        json={"fields": {"phone": "+1 555 0100", "name": "Ana"}},
        timeout=10,
    )
    assert seeded.status_code == 200
    listed = {p["name"] for p in requests.get(f"{api}/processes", timeout=10).json()["processes"]}
    assert "contact-update" in listed

    response = submit(
        api,
        "contact-update",
        {
            "contact_id": contact,
            "customer_email": "ana@example.com",
            "message": "Hello, I have a new phone number: +49 30 1234567. Thanks!",
        },
    )
    assert response.status_code == 202, response.text
    case = finished_case(api, response.json()["case_id"])

    assert case["status"] == "SUCCEEDED", case
    [action] = case["actions"]
    assert action["capability"] == "crm.update_contact"
    assert action["status"] == "APPLIED" and action["gate"] == "auto"
    assert action["result"] == {
        "contact_id": contact,
        "updated": ["phone"],
        "previous": {"phone": "+1 555 0100"},
    }
    assert case["plan"]["usage"]["prompts"]["plan"].startswith("contact-update.plan.v1@")
    calls = [r for r in receiver.requests if r.path == path and r.method != "PUT"]
    assert [r.method for r in calls] == ["GET", "PATCH"]
    key = emulation.capability_keys["crm.update_contact"]["api_key"]
    assert all(r.headers["Authorization"] == f"Bearer {key}" for r in calls)
    assert calls[1].idempotency_key == action["action_id"]
    assert receiver.resource(path)["fields"] == {"phone": "+49 30 1234567", "name": "Ana"}


def test_a_refused_read_fails_the_case_and_changes_nothing(emulation: Any) -> None:
    contact = f"C-{uuid.uuid4().int % 10**9}"
    emulation.receiver.inject_faults(422, times=1, path_contains=contact)
    response = submit(
        emulation.api_url,
        "contact-update",
        {
            "contact_id": contact,
            "customer_email": "bo@example.com",
            "message": "My phone number is now +44 20 7946 0000",
        },
    )
    case = finished_case(emulation.api_url, response.json()["case_id"])
    assert case["status"] == "FAILED"
    [action] = case["actions"]
    assert action["status"] != "APPLIED"
    assert "CRM answered HTTP 422 to GET" in str(action["error"]), action
    calls = [r.method for r in emulation.receiver.requests if contact in r.path]
    assert calls == ["GET"]  # terminal at once: no retry, no PATCH
