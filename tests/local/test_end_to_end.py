"""The sample case end to end, through HTTP and the emulated AWS endpoint only."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from tests.local.conftest import wait_for

pytestmark = pytest.mark.slow

TERMINAL = ("SUCCEEDED", "FAILED")


def example(api: str) -> tuple[str, dict[str, Any]]:
    processes = requests.get(f"{api}/processes", timeout=10).json()["processes"]
    sample = next(p for p in processes if p["name"] == "ticket-triage")
    return sample["name"], dict(sample["example_input"])


def submit(api: str, process: str, body: Any, key: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(f"{api}/processes/{process}/cases", data=data, headers=headers, timeout=30)


def finished_case(api: str, case_id: str, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        case = requests.get(f"{api}/cases/{case_id}", timeout=10).json()
        return case if case["status"] in TERMINAL else None

    return wait_for(probe, timeout=timeout, what=f"case {case_id} to finish")


def receiver_requests(emulation: Any, case_id: str) -> list[dict[str, Any]]:
    records = requests.get(f"{emulation.receiver_url}/_requests", timeout=10).json()["requests"]
    return [r for r in records if r["headers"].get("X-Aios-Case-Id") == case_id]


@pytest.fixture(scope="module")
def sample_case(emulation: Any) -> dict[str, Any]:
    process, body = example(emulation.api_url)
    response = submit(emulation.api_url, process, body, key=f"sample-{uuid.uuid4()}")
    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["links"] == {
        "self": f"/cases/{submitted['case_id']}",
        "audit": f"/cases/{submitted['case_id']}/audit",
    }
    return finished_case(emulation.api_url, submitted["case_id"])


def test_sample_case_succeeds_with_its_action_applied(sample_case: dict[str, Any]) -> None:
    assert sample_case["status"] == "SUCCEEDED", sample_case.get("error")
    assert sample_case["error"] is None
    assert sample_case["plan"] is not None
    assert sample_case["actions"]
    assert all(a["status"] == "APPLIED" for a in sample_case["actions"] if a["gate"] == "auto")


def test_execution_is_named_after_the_case(emulation: Any, sample_case: dict[str, Any]) -> None:
    sfn = emulation.client("stepfunctions")
    [machine] = emulation.deployment.state_machines.values()
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    [execution] = [e for e in executions if e["name"] == sample_case["case_id"]]
    assert execution["status"] == "SUCCEEDED"


def test_outside_system_gets_one_request_keyed_by_the_action_id(
    emulation: Any, sample_case: dict[str, Any]
) -> None:
    [action] = [a for a in sample_case["actions"] if a["capability"] == "http.post"]
    [received] = receiver_requests(emulation, sample_case["case_id"])
    assert received["idempotency_key"] == action["action_id"]
    assert received["method"] == "POST"
    assert received["path"] == f"/{action['params']['target']}{action['params']['path']}"
    assert received["json"] == action["params"]["body"]


def test_a_plans_auto_actions_on_one_entity_go_to_the_queue_in_one_message(
    emulation: Any, sample_case: dict[str, Any]
) -> None:
    """The sample plan's two actions are auto-approved and touch one ticket: the case machine
    sends them in one message (one Task, no Map, no state per action), grouped by the entity
    key and deduplicated by the plan id, and the answer holds both actions' outcomes."""
    sfn = emulation.client("stepfunctions")
    [machine] = emulation.deployment.state_machines.values()
    arn = machine.replace(":stateMachine:", ":execution:") + f":{sample_case['case_id']}"
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "StateEntered" in e["type"]]
    assert "AutoActions" in entered and not [e for e in events if e["type"].startswith("Map")]
    [sent] = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in events
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "sqs"
    ]
    actions = sent["MessageBody"]["actions"]
    assert [a["action_id"] for a in actions] == [a["action_id"] for a in sample_case["actions"]]
    assert sent["MessageGroupId"] == actions[0]["entity_key"] == actions[1]["entity_key"]
    assert sent["MessageDeduplicationId"] == sample_case["plan"]["plan_id"]
    [succeeded] = [e for e in events if e["type"] == "TaskSucceeded"
                   and e["taskSucceededEventDetails"]["resourceType"] == "sqs"]  # fmt: skip
    answers = json.loads(succeeded["taskSucceededEventDetails"]["output"])
    assert [(a["action_id"], a["status"]) for a in answers] == [
        (a["action_id"], "APPLIED") for a in actions
    ]


def test_audit_chain_of_the_case_verifies(emulation: Any, sample_case: dict[str, Any]) -> None:
    audit = requests.get(
        f"{emulation.api_url}/cases/{sample_case['case_id']}/audit", timeout=10
    ).json()
    assert audit["chain"]["valid"] is True
    assert audit["chain"]["length"] == len(audit["events"]) > 0
    assert [e["seq"] for e in audit["events"]] == sorted(e["seq"] for e in audit["events"])
    assert audit["chain"]["head"] == audit["events"][-1]["hash"]


def test_ledger_holds_the_case_in_the_emulated_dynamodb(
    emulation: Any, sample_case: dict[str, Any]
) -> None:
    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    items = emulation.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CASE#{sample_case['case_id']}"}},
    )["Items"]
    kinds = {TypeDeserializer().deserialize(i["sk"]).split("#")[0] for i in items}
    assert {"CASE", "PLAN", "ACTION", "AUDIT"} <= kinds


def test_same_key_same_body_is_one_case_and_one_execution(emulation: Any) -> None:
    api = emulation.api_url
    process, body = example(api)
    body["ticket_id"] = "T-2001"
    key = f"dup-{uuid.uuid4()}"
    first, second = submit(api, process, body, key), submit(api, process, body, key)
    assert (first.status_code, second.status_code) == (202, 202)
    case_id = first.json()["case_id"]
    assert second.json()["case_id"] == case_id
    finished_case(api, case_id)
    [machine] = emulation.deployment.state_machines.values()
    executions = emulation.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert [e["name"] for e in executions["executions"]].count(case_id) == 1
    assert len(receiver_requests(emulation, case_id)) == 1


def test_same_key_different_body_is_a_conflict(emulation: Any) -> None:
    api = emulation.api_url
    process, body = example(api)
    key = f"conflict-{uuid.uuid4()}"
    first = submit(api, process, {**body, "ticket_id": "T-3001"}, key)
    assert first.status_code == 202
    response = submit(api, process, {**body, "ticket_id": "T-3002"}, key)
    assert response.status_code == 409
    assert response.json()["error"]["code"]
    finished_case(api, first.json()["case_id"])  # leaves nothing running for later tests


def test_unknown_process_is_404(emulation: Any) -> None:
    response = submit(emulation.api_url, "no-such-process", {"x": 1})
    assert response.status_code == 404
    assert response.json()["error"]["code"]


def test_invalid_json_is_400(emulation: Any) -> None:
    process, _ = example(emulation.api_url)
    response = submit(emulation.api_url, process, "{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"ticket_id": "not-a-ticket"}, "ticket_id"), ({"subject": None}, "subject")],
)
def test_schema_violation_is_400_naming_the_field(
    emulation: Any, change: dict[str, Any], field: str
) -> None:
    process, body = example(emulation.api_url)
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    response = submit(emulation.api_url, process, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


def test_unknown_case_is_404(emulation: Any) -> None:
    response = requests.get(f"{emulation.api_url}/cases/c-does-not-exist", timeout=10)
    assert response.status_code == 404


def test_openapi_document_lists_the_routes(emulation: Any) -> None:
    response = requests.get(f"{emulation.api_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/processes",
        "/processes/{process}/cases",
        "/cases/{case_id}",
        "/cases/{case_id}/audit",
    ):
        assert path in document["paths"], sorted(document["paths"])


def test_unknown_route_and_wrong_method_answer_like_the_gateway(emulation: Any) -> None:
    missing = requests.get(f"{emulation.api_url}/nope", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ROUTE_NOT_FOUND"
    wrong = requests.delete(f"{emulation.api_url}/processes", timeout=10)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_retryable_outside_failure_is_retried_with_the_same_key(emulation: Any) -> None:
    """A 503 from the outside system: the message comes back (SQS redelivery) and the second
    attempt, with the same Idempotency-Key, succeeds."""
    api = emulation.api_url
    requests.post(
        f"{emulation.receiver_url}/_faults",
        json={"status": 503, "times": 1, "path_contains": "/T-4001/"},
        timeout=5,
    )
    process, body = example(api)
    body["ticket_id"] = "T-4001"
    case_id = submit(api, process, body, f"retry-{uuid.uuid4()}").json()["case_id"]
    case = finished_case(api, case_id, timeout=90)
    assert case["status"] == "SUCCEEDED", case.get("error")
    received = receiver_requests(emulation, case_id)
    assert [r["status"] for r in received] == [503, 200]
    assert len({r["idempotency_key"] for r in received}) == 1


def test_failed_case_undoes_its_applied_actions_and_says_why(emulation: Any) -> None:
    """The helpdesk refuses the triage (422, terminal): the ticket's recorded triage is rolled
    back, and the case ends FAILED with the reason and what was undone."""
    api = emulation.api_url
    requests.post(
        f"{emulation.receiver_url}/_faults",
        json={"status": 422, "times": 1, "path_contains": "/T-5001/"},
        timeout=5,
    )
    process, body = example(api)
    body["ticket_id"] = "T-5001"
    case_id = submit(api, process, body, f"fail-{uuid.uuid4()}").json()["case_id"]
    case = finished_case(api, case_id, timeout=90)

    assert case["status"] == "FAILED"
    assert case["error"]["error"] == "Aios.ActionFailed"
    update, post = case["actions"]
    assert (update["capability"], update["status"]) == ("ledger.update_entity", "COMPENSATED")
    assert (post["capability"], post["status"]) == ("http.post", "FAILED")
    assert case["compensation"] == {"compensated": [update["action_id"]], "not_compensable": []}

    table = emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]
    entity = emulation.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "ENTITY#default/ticket#T-5001"}, "sk": {"S": "ENTITY"}}
    )["Item"]
    assert TypeDeserializer().deserialize(entity["seq"]) == 2  # applied, then undone
    assert json.loads(TypeDeserializer().deserialize(entity["data"])) == {}

    audit = requests.get(f"{api}/cases/{case_id}/audit", timeout=10).json()
    types = [e["type"] for e in audit["events"]]
    assert (
        types.index("action.applied")
        < types.index("action.failed")
        < types.index("case.compensating")
        < types.index("action.compensated")
        < types.index("case.failed")
    )
    assert audit["chain"]["valid"] is True
    sfn = emulation.client("stepfunctions")
    [machine] = emulation.deployment.state_machines.values()
    [execution] = [
        e
        for e in sfn.list_executions(stateMachineArn=machine)["executions"]
        if e["name"] == case_id
    ]
    assert execution["status"] == "FAILED"
