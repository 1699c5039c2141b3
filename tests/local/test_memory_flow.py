"""Memory in the case flow, end to end through the emulation: Learn writes a record, the
stream indexer embeds it into the embedded store, Recall brings it back into the next
decision's context, never across tenants."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, finished_case, submit


def _memory_items(emulation: Any) -> list[dict[str, Any]]:
    table = next(
        f.environment["AIOS_MEMORY_TABLE"]
        for f in emulation.deployment.functions.values()
        if "AIOS_MEMORY_TABLE" in f.environment
    )
    pages = emulation.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return [item for page in pages for item in page["Items"]]


def _execution_output(emulation: Any, case_id: str) -> dict[str, Any]:
    sfn = emulation.client("stepfunctions")
    machine = next(iter(emulation.deployment.state_machines.values()))
    arn = machine.replace(":stateMachine:", ":execution:") + f":{case_id}"
    done = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        what="execution end",
    )
    return json.loads(done.get("output") or "{}")


def _recall(emulation: Any, tenant: str, process: str, payload: dict[str, Any]) -> dict[str, Any]:
    event = {
        "step": "recall",
        "case_id": "probe",
        "tenant": tenant,
        "process": process,
        "input": payload,
    }
    return emulation.runtime.invoke("memory", json.dumps(event).encode()).json()


def test_a_finished_case_is_learned_indexed_and_recalled_into_the_next_decision(
    emulation: Any,
) -> None:
    process, body = example(emulation.api_url)
    marker = f"zebra{uuid.uuid4().hex[:8]}"
    body = {**body, "subject": f"{body['subject']} {marker}", "body": f"{body['body']} {marker}"}
    first = submit(emulation.api_url, process, body, key=str(uuid.uuid4())).json()["case_id"]
    assert finished_case(emulation.api_url, first)["status"] == "SUCCEEDED"
    record = wait_for(
        lambda: [i for i in _memory_items(emulation) if i["sk"]["S"] == f"case:{first}"],
        what="the lesson record",
    )[0]
    assert record["version"]["N"] == "1" and record["embedding_model"]["S"].startswith("hashing")
    assert "Outcome: SUCCEEDED" in record["text"]["S"]
    # The stream indexer makes it recallable; the next case with that input gets the lesson.
    wait_for(
        lambda: any(
            m["source_case"] == first
            for m in _recall(emulation, "default", process, body)["memories"]
        ),
        what="the lesson indexed",
    )
    second = submit(emulation.api_url, process, body, key=str(uuid.uuid4())).json()["case_id"]
    view = finished_case(emulation.api_url, second)
    memory = _execution_output(emulation, second)["memory"]
    assert memory["memories"][0]["source_case"] == first
    assert marker in memory["summary"]
    # The lesson reached the decision: the plan records the memories its model request carried.
    assert view["plan"]["context_memories"][0] == f"case:{first}"
    assert (
        f"case:{first}" not in finished_case(emulation.api_url, first)["plan"]["context_memories"]
    )


def test_recall_never_returns_another_tenants_memory(emulation: Any) -> None:
    process, body = example(emulation.api_url)
    wait_for(lambda: _recall(emulation, "default", process, body)["memories"], what="a memory")
    other = _recall(emulation, "another-tenant", process, body)
    assert other["memories"] == [] and other["summary"] == ""


def test_a_large_input_travels_as_a_claim_check_and_the_case_succeeds(emulation: Any) -> None:
    process, body = example(emulation.api_url)
    body = {**body, "body": "The attached log follows. " + "lorem ipsum dolor " * 500}
    overrides = emulation.runtime.overrides
    saved = overrides.get("AIOS_CONTEXT_MAX_BYTES")
    overrides["AIOS_CONTEXT_MAX_BYTES"] = "4096"  # the template's 64 KiB, lowered for the test
    try:
        case_id = submit(emulation.api_url, process, body, key=str(uuid.uuid4())).json()["case_id"]
        assert finished_case(emulation.api_url, case_id)["status"] == "SUCCEEDED"
    finally:
        if saved is None:
            overrides.pop("AIOS_CONTEXT_MAX_BYTES", None)
        else:
            overrides["AIOS_CONTEXT_MAX_BYTES"] = saved
    sfn = emulation.client("stepfunctions")
    machine = next(iter(emulation.deployment.state_machines.values()))
    arn = machine.replace(":stateMachine:", ":execution:") + f":{case_id}"
    started = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    claim = started["input"]["$claim"]  # the state carried a reference, not the input
    assert claim["key"] == f"cases/{case_id}/input.json" and claim["bytes"] > 4096
    assert len(json.dumps(started)) < 1024
    stored = emulation.client("s3").get_object(Bucket=claim["bucket"], Key=claim["key"])
    assert json.loads(stored["Body"].read()) == body
