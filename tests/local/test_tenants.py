"""Tenant isolation through the API: the tenant comes from the caller's IAM principal (its
`aios:tenant` tag), two tenants submitting the same input get two cases and two entities, and
no route lets one read the other's case; a caller without a tenant gets nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import TERMINAL

pytestmark = pytest.mark.slow


class Caller:
    """An IAM user of the emulated account, signing its API requests with SigV4."""

    def __init__(self, emulation: Any, tenant: str | None) -> None:
        iam = emulation.client("iam")
        name = f"caller-{uuid.uuid4().hex[:8]}"
        tags = [{"Key": "aios:tenant", "Value": tenant}] if tenant else []
        iam.create_user(UserName=name, Tags=tags)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        self.api = emulation.api_url
        self.region = emulation.region

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        url = f"{self.api}{path}"
        data = json.dumps(body) if body is not None else None
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        return requests.request(method, url, data=data, headers=dict(request.headers), timeout=30)


@pytest.fixture(scope="module")
def tenants(emulation: Any) -> dict[str, Any]:
    acme, globex = Caller(emulation, "acme"), Caller(emulation, "globex")
    body = json.loads(json.dumps(_example(acme)))
    key = f"same-{uuid.uuid4()}"
    submitted = {}
    for name, caller in (("acme", acme), ("globex", globex)):
        response = caller.call(
            "POST", "/processes/ticket-triage/cases", body, **{"Idempotency-Key": key}
        )
        assert response.status_code == 202, response.text
        submitted[name] = response.json()["case_id"]
    done = {
        name: wait_for(
            lambda c=caller, i=submitted[name]: (
                r if (r := c.call("GET", f"/cases/{i}").json())["status"] in TERMINAL else None
            ),
            timeout=60,
            what=f"{name}'s case",
        )
        for name, caller in (("acme", acme), ("globex", globex))
    }
    return {"callers": {"acme": acme, "globex": globex}, "cases": done}


def _example(caller: Caller) -> dict[str, Any]:
    listing = caller.call("GET", "/processes").json()["processes"]
    return dict(next(p for p in listing if p["name"] == "ticket-triage")["example_input"])


def test_same_input_from_two_tenants_is_two_cases_on_two_entities(tenants: dict[str, Any]) -> None:
    acme, globex = tenants["cases"]["acme"], tenants["cases"]["globex"]
    assert acme["case_id"] != globex["case_id"]  # the same Idempotency-Key, scoped per tenant
    assert (acme["tenant"], globex["tenant"]) == ("acme", "globex")
    assert acme["status"] == globex["status"] == "SUCCEEDED"
    for case in (acme, globex):
        update = next(a for a in case["actions"] if a["capability"] == "ledger.update_entity")
        assert update["result"]["entity_key"].startswith(f"{case['tenant']}/ticket#")
        assert update["result"]["version"] == 1  # neither saw the other's entity state


@pytest.mark.parametrize("route", ["/cases/{id}", "/cases/{id}/audit"])
def test_no_route_reads_another_tenants_case(tenants: dict[str, Any], route: str) -> None:
    callers, done = tenants["callers"], tenants["cases"]
    for reader, owner in (("acme", "globex"), ("globex", "acme")):
        path = route.format(id=done[owner]["case_id"])
        other = callers[reader].call("GET", path)
        assert other.status_code == 404, other.text
        assert other.json()["error"]["code"] == "CASE_NOT_FOUND"  # as if it did not exist
        assert done[owner]["tenant"] not in other.text
        assert callers[owner].call("GET", path).status_code == 200


def test_a_caller_without_a_tenant_gets_nothing(emulation: Any, tenants: dict[str, Any]) -> None:
    stranger = Caller(emulation, None)
    case_id = tenants["cases"]["acme"]["case_id"]
    for method, path, body in (
        ("GET", "/processes", None),
        ("POST", "/processes/ticket-triage/cases", _example(tenants["callers"]["acme"])),
        ("GET", f"/cases/{case_id}", None),
        ("GET", f"/cases/{case_id}/audit", None),
    ):
        response = stranger.call(method, path, body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "TENANT_UNKNOWN"
