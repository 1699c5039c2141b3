"""The API server's routing and proxy events, and the receiver, on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from local.api_gateway import ApiServer, Router
from local.assembly import FunctionSpec, Route
from local.lambda_runtime import LambdaRuntime
from local.receiver import Receiver
from tests.local.conftest import write_function

ROUTES = [
    Route("/cases/{case_id}", "GET", "echo", "r1"),
    Route("/cases/latest", "GET", "echo", "r2"),
    Route("/files/{proxy+}", "ANY", "echo", "r3"),
    Route("/broken", "GET", "broken", "r4"),
]


def test_router_prefers_literal_segments_and_reports_allowed_methods() -> None:
    router = Router(ROUTES)
    latest = router.match("GET", "/cases/latest")
    assert latest is not None and latest.route is not None
    assert latest.route.path == "/cases/latest"
    one = router.match("GET", "/cases/c-1")
    assert one is not None and one.path_parameters == {"case_id": "c-1"}
    greedy = router.match("PUT", "/files/a/b.txt")
    assert greedy is not None and greedy.path_parameters == {"proxy": "a/b.txt"}
    wrong = router.match("POST", "/cases/c-1")
    assert wrong is not None and wrong.route is None and wrong.allowed == ("GET",)
    assert router.match("GET", "/nothing") is None


def test_requests_become_rest_proxy_events(tmp_path: Path) -> None:
    rt = LambdaRuntime([])
    echo = write_function(
        tmp_path,
        "echo",
        "import json\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 201, 'headers': {'X-Echo': 'yes'},\n"
        "            'multiValueHeaders': {'Set-Cookie': ['a=1', 'b=2']},\n"
        "            'body': json.dumps(event)}\n",
    )
    broken = write_function(tmp_path, "broken", "def handler(event, context):\n    1 / 0\n")
    rt.register(FunctionSpec(name="echo", folder=echo, handler="app.handler", environment={}))
    rt.register(FunctionSpec(name="broken", folder=broken, handler="app.handler", environment={}))
    server = ApiServer(ROUTES, rt.invoke, stage="prod").start()
    try:
        response = requests.get(
            f"{server.url}/cases/c%201?x=1&x=2&y=", headers={"X-Trace": "t"}, timeout=10
        )
        assert response.status_code == 201
        assert response.headers["X-Echo"] == "yes"
        assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
        event = response.json()
        assert event["resource"] == "/cases/{case_id}"
        assert event["path"] == "/cases/c%201"
        assert event["httpMethod"] == "GET"
        assert event["pathParameters"] == {"case_id": "c 1"}
        assert event["queryStringParameters"] == {"x": "2", "y": ""}
        assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
        assert event["headers"]["X-Trace"] == "t"
        assert event["multiValueHeaders"]["X-Trace"] == ["t"]
        assert event["body"] is None and event["isBase64Encoded"] is False
        context = event["requestContext"]
        assert context["resourcePath"] == "/cases/{case_id}"
        assert context["stage"] == "prod"
        assert context["httpMethod"] == "GET"
        assert context["requestId"]
        assert context["identity"]["sourceIp"] == "127.0.0.1"

        posted = requests.put(f"{server.url}/files/a/b", data=b"\xff\x00", timeout=10).json()
        assert posted["isBase64Encoded"] is True and posted["body"] == "/wA="

        failed = requests.get(f"{server.url}/broken", timeout=10)
        assert failed.status_code == 502
        assert failed.json() == {"message": "Internal server error"}
        missing = requests.get(f"{server.url}/nope", timeout=10)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "ROUTE_NOT_FOUND"
        wrong = requests.post(f"{server.url}/cases/c-1", timeout=10)
        assert wrong.status_code == 405
        assert wrong.headers["Allow"] == "GET"
    finally:
        server.stop()


def test_receiver_records_requests_and_injects_faults() -> None:
    receiver = Receiver().start()
    try:
        url = receiver.url
        control = requests.post(f"{url}/_faults", json={"status": 503, "times": 1}, timeout=5)
        assert control.json() == {"pending_faults": 1}
        first = requests.post(
            f"{url}/helpdesk/t/1", json={"a": 1}, headers={"Idempotency-Key": "k"}, timeout=5
        )
        second = requests.post(
            f"{url}/helpdesk/t/1", json={"a": 1}, headers={"Idempotency-Key": "k"}, timeout=5
        )
        assert first.status_code == 503
        # A POST adds an item to the collection at its path and answers it (a fault stores nothing).
        assert (second.status_code, second.json()) == (
            200,
            {"a": 1, "id": 2, "revision": 1, "received": True},
        )
        assert receiver.collection("/helpdesk/t/1") == [{"a": 1, "id": 2, "revision": 1}]
        records: list[dict[str, Any]] = requests.get(f"{url}/_requests", timeout=5).json()[
            "requests"
        ]
        assert [(r["status"], r["idempotency_key"], r["target"]) for r in records] == [
            (503, "k", "helpdesk"),
            (200, "k", "helpdesk"),
        ]
        assert records[1]["json"] == {"a": 1} and json.loads(records[1]["body"]) == {"a": 1}
        assert [r.id for r in receiver.requests] == [1, 2]
        requests.delete(f"{url}/_requests", timeout=5)
        assert receiver.requests == []
    finally:
        receiver.stop()


def test_a_targeted_fault_is_taken_only_by_a_matching_request() -> None:
    receiver = Receiver().start()
    try:
        url = receiver.url
        requests.post(
            f"{url}/_faults", json={"status": 422, "times": 1, "path_contains": "/T-7/"}, timeout=5
        )
        other = requests.post(f"{url}/helpdesk/tickets/T-8/triage", json={}, timeout=5)
        target = requests.post(f"{url}/helpdesk/tickets/T-7/triage", json={}, timeout=5)
        again = requests.post(f"{url}/helpdesk/tickets/T-7/triage", json={}, timeout=5)
        assert [r.status_code for r in (other, target, again)] == [200, 422, 200]
    finally:
        receiver.stop()
