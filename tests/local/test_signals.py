"""The kit's signals end to end, through the emulation: case events on the bus and signed
webhooks, the KPIs of a known workload, every alarm's metric emitted by its real code path,
and the reconciler finding what was made stuck (a dead-lettered action fails its case within
one run; a redrive applies the action once).

One workload drives every path once (module fixtures, in order): tickets that succeed, retry,
fail and roll back, and are handed off for an exhausted budget; refunds approved, rejected,
timed out and left waiting; a forged queue message. Then the scheduled functions run (the
emulation fires no schedules) and the stuck cases are injected: a case with no execution, a
failed execution whose end the ledger never got, a tampered entity, two dead-lettered actions.

Run with `-s` to print the closing figures: the KPI table (`aios kpi`), the alarms with their
thresholds, and the time from an action dead-lettering to its case failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import requests
from aios.ledger import entity_pk
from aios.tenants import scoped_entity_key
from boto3.dynamodb.types import TypeSerializer

from local.assembly import load_stack
from local.emulation import LOCAL_TENANT
from tests.local.conftest import ROOT, wait_for
from tests.local.test_approvals import links, post, refund
from tests.local.test_end_to_end import example, finished_case, submit

pytestmark = pytest.mark.slow
SCHEMA = json.loads((ROOT / "docs" / "events" / "case-event.schema.json").read_text())
WEBHOOK_PATH = "/helpdesk/aios/events"


@dataclass
class Workload:
    started: datetime
    ended: datetime
    cases: dict[str, str]  # name -> case id
    probe: str  # SQS queue receiving every event on the kit's bus
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # case id -> details
    dead_to_failed_s: float = 0.0


def _case(api: str, case_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{api}/cases/{case_id}", timeout=10).json())


def _ticket(emulation: Any, ticket: str, fault: int | None = None) -> str:
    if fault is not None:
        emulation.receiver.inject_faults(fault, 1, path_contains=f"/{ticket}/")
    process, body = example(emulation.api_url)
    response = submit(
        emulation.api_url, process, {**body, "ticket_id": ticket}, f"sig-{uuid.uuid4()}"
    )
    assert response.status_code == 202, response.text
    return str(response.json()["case_id"])


def _probe_queue(emulation: Any) -> str:
    """A loopback target on the kit's bus: an SQS queue with a rule taking every event."""
    sqs, events = emulation.client("sqs"), emulation.client("events")
    [bus] = emulation.deployment.event_buses.values()
    url = sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="probe", EventBusName=bus, EventPattern=json.dumps({"source": ["aios.kit"]})
    )
    events.put_targets(Rule="probe", EventBusName=bus, Targets=[{"Id": "probe", "Arn": arn}])
    return str(url)


def _exhausted_budget_case(emulation: Any) -> str:
    env = emulation.deployment.functions["decide"].environment
    ddb, day = emulation.client("dynamodb"), datetime.now(UTC).date().isoformat()
    key = {"item_key": {"S": f"BUDGET#{LOCAL_TENANT}#ticket-triage#{day}"}}
    ddb.put_item(
        TableName=env["AIOS_DECISION_TABLE"],
        Item={
            **key,
            "kind": {"S": "budget"},
            "spent_micros": {"N": str(10**12)},
            "spent_tokens": {"N": "0"},
        },
    )
    try:
        case_id = _ticket(emulation, "T-8804")
        wait_for(
            lambda: _case(emulation.api_url, case_id)["status"] == "HANDED_OFF",
            timeout=60,
            what="the budget case to be handed off",
        )
    finally:
        ddb.delete_item(TableName=env["AIOS_DECISION_TABLE"], Key=key)
    return case_id


def _forged_message(emulation: Any) -> None:
    queue = next(m.queue_url for m in emulation.deployment.event_sources if m.function == "execute")
    emulation.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=json.dumps({"task_token": "forged"}),
        MessageGroupId="forged",
        MessageDeduplicationId=uuid.uuid4().hex,
    )


@pytest.fixture(scope="module")
def workload(emulation: Any) -> Workload:
    api = emulation.api_url
    probe = _probe_queue(emulation)
    started = datetime.now(UTC) - timedelta(seconds=1)
    cases = {
        "ok": _ticket(emulation, "T-8801"),
        "retried": _ticket(emulation, "T-8802", fault=503),
        "failed": _ticket(emulation, "T-8803", fault=422),
        "approved": refund(emulation, order_id="O-8801"),
        "rejected": refund(emulation, order_id="O-8802"),
        "timed_out": refund(emulation, order_id="O-8803", channel="chat"),
        "waiting": refund(emulation, order_id="O-8804"),
    }
    [approve] = links(emulation, cases["approved"]).values()
    [reject] = links(emulation, cases["rejected"]).values()
    assert post(approve, "approve").status_code == 200
    assert post(reject, "reject", "not damaged").status_code == 200
    _forged_message(emulation)
    for name in ("ok", "retried", "failed", "approved", "rejected", "timed_out"):
        finished_case(api, cases[name], timeout=90)
    links(emulation, cases["waiting"])
    cases["handed_off"] = _exhausted_budget_case(emulation)
    return Workload(started=started, ended=datetime.now(UTC), cases=cases, probe=probe)


def _invoke(emulation: Any, function: str, event: dict[str, Any]) -> dict[str, Any]:
    result = emulation.runtime.invoke(function, json.dumps(event).encode())
    assert not result.function_error, result.payload[:2000]
    return dict(result.json())


def _reconcile(emulation: Any, later: timedelta = timedelta()) -> dict[str, Any]:
    when = (datetime.now(UTC) + later).isoformat()
    return _invoke(emulation, "case_reconciler", {"time": when, "detail-type": "Scheduled Event"})


def _entity(ticket: str) -> str:
    """The ledger key of the local tenant's ticket entity."""
    return entity_pk(scoped_entity_key(LOCAL_TENANT, f"ticket#{ticket}"))


def _table(emulation: Any) -> str:
    return str(emulation.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"])


def _lost_case(emulation: Any) -> str:
    """A RECEIVED case whose execution was never started (the api crashed in between)."""
    from aios.audit import GENESIS, chain_events
    from aios.signing import digest

    case_id = f"c-{uuid.uuid4().hex}"
    process, body = example(emulation.api_url)
    at = datetime.now(UTC).isoformat(timespec="milliseconds")
    case_input = {**body, "ticket_id": "T-8808"}
    received = {"process": process, "input_digest": digest(case_input)}
    [event] = chain_events(case_id, 0, GENESIS, [("case.received", received)], at)
    data = {"process": process, "tenant": LOCAL_TENANT, "input": case_input, **received}
    serialize = TypeSerializer().serialize
    items = [
        {"pk": f"CASE#{case_id}", "sk": "CASE", "kind": "case", "status": "RECEIVED", "process": process,
         "data": json.dumps(data), "seq": 1, "head": event.hash, "created_at": at, "updated_at": at},
        {"pk": f"CASE#{case_id}", "sk": "AUDIT#0000000001", "kind": "audit", "status": event.type,
         "data": json.dumps(event.data), "seq": 1, "head": event.hash, "prev_hash": GENESIS, "created_at": at},
    ]  # fmt: skip
    for item in items:
        emulation.client("dynamodb").put_item(
            TableName=_table(emulation), Item={k: serialize(v) for k, v in item.items()}
        )
    return case_id


def _dead_letter(emulation: Any, ticket: str) -> tuple[str, float]:
    """Submit a ticket while execute is paused and let its first action message dead-letter;
    returns the case id and when it moved to the dead-letter queue."""
    with emulation.paused("execute"):
        case_id = _ticket(emulation, ticket)
        wait_for(lambda: _case(emulation.api_url, case_id)["status"] == "RUNNING", what="plan")
        return case_id, emulation.dead_letter(case_id)


def _cli(emulation: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args],
        cwd=ROOT,
        env={**os.environ, **emulation.cli_environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def reconciled(emulation: Any, workload: Workload) -> Workload:
    """The scheduled functions, run over the workload and what is made stuck here."""
    api, cases = emulation.api_url, workload.cases
    _invoke(emulation, "memory_reconciler", {})
    _invoke(emulation, "kpis", {"time": datetime.now(UTC).isoformat()})
    cases["lost"] = _lost_case(emulation)
    # Two days on: the lost case is past the grace period, the refund and the handoff past
    # their SLAs.
    report = _reconcile(emulation, timedelta(days=2))
    first = report["counts"]
    assert first["received_without_execution"] >= 1, report
    assert first["approval_past_sla"] >= 1 and first["handoff_past_sla"] >= 1, report
    assert finished_case(api, cases["lost"])["status"] == "SUCCEEDED"
    # A case whose execution failed but whose end the ledger never got (set back to RUNNING).
    cases["unrecorded"] = _ticket(emulation, "T-8809", fault=422)
    assert finished_case(api, cases["unrecorded"])["status"] == "FAILED"
    emulation.client("dynamodb").update_item(
        TableName=_table(emulation),
        Key={"pk": {"S": f"CASE#{cases['unrecorded']}"}, "sk": {"S": "CASE"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "RUNNING"}},
    )
    assert _reconcile(emulation, timedelta(days=2))["counts"]["execution_ended"] >= 1
    repaired = _case(api, cases["unrecorded"])
    assert repaired["status"] == "FAILED" and repaired["error"]["error"] == "Aios.ExecutionEnded"
    # Now: an entity changed behind the kit's back, and an action dead-lettered.
    emulation.client("dynamodb").update_item(
        TableName=_table(emulation),
        Key={"pk": {"S": _entity("T-8801")}, "sk": {"S": "ENTITY"}},
        UpdateExpression="SET #d = :d",
        ConditionExpression="attribute_exists(pk)",  # the case's own entity, not a new one
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"S": json.dumps({"status": "closed by hand"})}},
    )
    cases["dead"], dead_at = _dead_letter(emulation, "T-8805")
    counts = _reconcile(emulation)["counts"]
    assert counts["action_dead_lettered"] >= 1 and counts["action_drift"] >= 1
    wait_for(lambda: _case(api, cases["dead"])["status"] == "FAILED", timeout=60, what="dead case")
    workload.dead_to_failed_s = time.monotonic() - dead_at
    return workload


def test_a_dead_lettered_action_fails_its_case_within_one_reconciler_run(
    emulation: Any, reconciled: Workload
) -> None:
    case = _case(emulation.api_url, reconciled.cases["dead"])
    assert case["status"] == "FAILED" and case["error"]["error"] == "Aios.ActionDeadLettered"
    first = case["actions"][0]
    assert first["status"] == "FAILED" and first["error"]["code"] == "ACTION_DEAD_LETTERED"
    assert all(a["status"] != "APPLIED" for a in case["actions"])
    assert reconciled.dead_to_failed_s < 60  # not the task's 3600 s timeout
    audit = requests.get(f"{emulation.api_url}/cases/{case['case_id']}/audit", timeout=10).json()
    assert audit["chain"]["valid"]
    kinds = [e["data"]["kind"] for e in audit["events"] if e["type"] == "reconciler.finding"]
    assert kinds == ["action_dead_lettered"]


def test_a_redriven_action_applies_once_and_a_failed_ones_redrive_applies_nothing(
    emulation: Any, reconciled: Workload
) -> None:
    api = emulation.api_url
    case_id, _ = _dead_letter(emulation, "T-8806")
    listed = _cli(emulation, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = {m["case_id"]: m for m in json.loads(listed.stdout)}
    assert letters[reconciled.cases["dead"]]["ledger_status"] == "FAILED"
    assert letters[case_id]["ledger_status"] == "APPROVED" and letters[case_id]["kind"] == "action"
    moved = _cli(emulation, "dlq", "redrive", letters[case_id]["message_id"])
    assert moved.returncode == 0, moved.stderr
    assert finished_case(api, case_id)["status"] == "SUCCEEDED"
    posted = [r for r in emulation.receiver.requests if r.path.endswith("/T-8806/triage")]
    assert [r.status for r in posted] == [200]
    entity = emulation.client("dynamodb").get_item(
        TableName=_table(emulation),
        Key={"pk": {"S": _entity("T-8806")}, "sk": {"S": "ENTITY"}},
    )["Item"]
    assert entity["seq"] == {"N": "1"}  # the dead-lettered update applied exactly once
    # The failed case's message, redriven, is refused: nothing of it runs after its case failed.
    assert _cli(emulation, "dlq", "redrive", "--all").returncode == 0
    dead = reconciled.cases["dead"]

    def refused() -> bool:
        audit = requests.get(f"{api}/cases/{dead}/audit", timeout=10).json()["events"]
        return any(
            e["type"] == "action.rejected" and e["data"]["code"] == "ACTION_NOT_RUNNABLE"
            for e in audit
        )

    wait_for(refused, what="the redriven action of the failed case to be refused")
    assert _case(api, dead)["status"] == "FAILED"
    assert not [r for r in emulation.receiver.requests if r.path.endswith("/T-8805/triage")]


def _drain(emulation: Any, workload: Workload) -> None:
    sqs = emulation.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=workload.probe, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return
        for message in messages:
            detail = json.loads(message["Body"])["detail"]
            workload.events.setdefault(detail["case_id"], []).append(detail)
            sqs.delete_message(QueueUrl=workload.probe, ReceiptHandle=message["ReceiptHandle"])


def test_every_change_is_one_schema_valid_event_in_order_with_its_causal_ids(
    emulation: Any, reconciled: Workload
) -> None:
    validate = fastjsonschema.compile(SCHEMA)
    for name, case_id in reconciled.cases.items():
        audit = requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json()[
            "events"
        ]

        def complete(case_id: str = case_id, audit: list[Any] = audit) -> bool:
            _drain(emulation, reconciled)
            return len(reconciled.events.get(case_id, [])) >= len(audit)

        with contextlib.suppress(AssertionError):  # the comparison below says what is missing
            wait_for(complete, timeout=30, what=f"the events of the {name} case")
        events = reconciled.events.get(case_id, [])
        assert [e["seq"] for e in events] == [a["seq"] for a in audit], name  # once each, in order
        assert [e["type"] for e in events] == [a["type"] for a in audit], name
        for event in events:
            validate(event)
            assert event["audit_hash"] == audit[event["seq"] - 1]["hash"]
    ok = reconciled.events[reconciled.cases["ok"]]
    applied = [e for e in ok if e["type"] == "action.applied"]
    assert [e["step"] for e in applied] == [0, 1]
    for event in applied:
        assert event["model_id"] == "aios-offline-rules-v1"
        assert event["prompt_version"].startswith("ticket-triage.plan.v1@")
        assert (
            event["plan_id"] == f"{reconciled.cases['ok']}.p1" and event["tenant"] == LOCAL_TENANT
        )
    [decided] = [
        e
        for e in reconciled.events[reconciled.cases["approved"]]
        if e["type"] == "approval.decided"
    ]
    assert (
        decided["action_id"] == f"{reconciled.cases['approved']}.p1.a0"
        and decided["process"] == "refund-request"
    )


def test_causal_ids_reach_the_outside_system_as_headers(emulation: Any, workload: Workload) -> None:
    case_id = workload.cases["ok"]
    [sent] = [r for r in emulation.receiver.requests if r.headers.get("X-Aios-Case-Id") == case_id]
    action = _case(emulation.api_url, case_id)["actions"][1]
    assert sent.headers["X-Aios-Action-Id"] == action["action_id"] == sent.idempotency_key
    assert sent.headers["X-Aios-Plan-Id"] == f"{case_id}.p1" and sent.headers["X-Aios-Step"] == "1"
    assert (
        sent.headers["X-Aios-Process"] == "ticket-triage"
        and sent.headers["X-Aios-Tenant"] == LOCAL_TENANT
    )
    assert sent.headers["X-Aios-Model-Id"] == "aios-offline-rules-v1"
    assert sent.headers["X-Aios-Prompt-Version"].startswith("ticket-triage.plan.v1@")


def _deliveries(emulation: Any, case_id: str) -> list[Any]:
    return [
        r
        for r in emulation.receiver.requests
        if r.path == WEBHOOK_PATH and (r.json or {}).get("case_id") == case_id
    ]


def test_webhooks_deliver_the_end_of_each_case_signed(emulation: Any, workload: Workload) -> None:
    key = emulation.target_keys["helpdesk"].encode()
    for name, type_ in (
        ("ok", "case.succeeded"),
        ("failed", "case.failed"),
        ("handed_off", "case.handed_off"),
    ):
        [delivery] = wait_for(
            lambda n=name: _deliveries(emulation, workload.cases[n]), what=f"{name} webhook"
        )
        assert delivery.json["type"] == type_ and delivery.status == 200
        assert (
            delivery.headers["X-Aios-Event-Id"] == delivery.idempotency_key == delivery.json["id"]
        )
        signed = (
            b"v1:" + delivery.headers["X-Aios-Timestamp"].encode() + b":" + delivery.body.encode()
        )
        expected = hmac.new(key, signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(delivery.headers["X-Aios-Signature"], f"v1={expected}")
    assert not _deliveries(emulation, workload.cases["approved"])  # refund-request has no webhook


def _emf(emulation: Any, function: str) -> list[dict[str, Any]]:
    """Every EMF metric record the function printed (its log file is its CloudWatch group)."""
    path = emulation.runtime.log_file(function)
    records = []
    for line in Path(path).read_text().splitlines() if path and Path(path).exists() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "_aws" in record:
            records.append(record)
    return records


def _emitted(record: dict[str, Any], alarm: dict[str, Any]) -> bool:
    """Whether the record holds the alarm's metric with its unit, dimensions and a value > 0."""
    wanted = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    for directive in record["_aws"]["CloudWatchMetrics"]:
        units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        if (
            directive["Namespace"] != alarm["Namespace"]
            or units.get(alarm["MetricName"]) != alarm["Unit"]
        ):
            continue
        if not any(set(d) == set(wanted) for d in directive["Dimensions"]):
            continue
        if any(record.get(name) != value for name, value in wanted.items()):
            continue
        value = record[alarm["MetricName"]]
        values = value if isinstance(value, list) else [value]
        return alarm["MetricName"] == "MemoryDrift" or any(v > 0 for v in values)
    return False


def _kit_alarms(emulation: Any) -> dict[str, dict[str, Any]]:
    _, template = load_stack(emulation.cdk_out)
    return {
        logical_id: r["Properties"]
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AIOS"
    }


def test_every_kit_alarm_watches_a_metric_its_code_path_emitted(
    emulation: Any, reconciled: Workload
) -> None:
    alarms = _kit_alarms(emulation)
    assert len(alarms) == 13  # every signal, memory drift included (the emulation has memory)
    missing = []
    for logical_id, alarm in alarms.items():
        [service] = [d["Value"] for d in alarm["Dimensions"] if d["Name"] == "service"]
        if not any(_emitted(r, alarm) for r in _emf(emulation, service.removeprefix("aios-"))):
            missing.append((logical_id, alarm["MetricName"]))
    assert missing == []


def _kpis(emulation: Any, workload: Workload, process: str) -> dict[str, Any]:
    window = {
        "process": process,
        "since": workload.started.isoformat(),
        "until": workload.ended.isoformat(),
    }
    response = requests.get(f"{emulation.api_url}/kpis", params=window, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json()["rows"][0])


def test_kpis_of_the_workload_have_their_known_values(emulation: Any, workload: Workload) -> None:
    api, cases = emulation.api_url, workload.cases
    tickets = _kpis(emulation, workload, "ticket-triage")
    views = [_case(api, cases[n]) for n in ("ok", "retried", "failed", "handed_off")]
    assert (tickets["model_id"], tickets["cases"], tickets["actions_proposed"]) == ("*", 4, 6)
    assert (tickets["applied"], tickets["auto_applied"], tickets["rolled_back"]) == (5, 5, 1)
    assert tickets["auto_applied_share"] == pytest.approx(5 / 6, abs=1e-4)
    assert tickets["rollback_rate"] == 0.2 and tickets["acceptance_rate"] is None
    assert tickets["handoff_rate"] == 0.25
    assert tickets["handoff_rate_by_reason"] == {"BUDGET_EXHAUSTED": 0.25}
    assert tickets["human_intervention_rate"] == 0.0 and tickets["time_to_human_p50_s"] is None
    cost = sum(v["usage"]["cost_usd"] for v in views)
    assert tickets["model_cost_per_case_usd"] == pytest.approx(cost / 4, abs=1e-6)
    hits = sum(v["usage"]["cache"]["hits"] for v in views)
    misses = sum(v["usage"]["cache"]["misses"] for v in views)
    assert tickets["cache_hit_rate"] == pytest.approx(hits / (hits + misses), abs=1e-4)

    refunds = _kpis(emulation, workload, "refund-request")
    assert (refunds["cases"], refunds["actions_proposed"], refunds["applied"]) == (4, 4, 1)
    assert (refunds["approved"], refunds["rejected"], refunds["acceptance_rate"]) == (1, 1, 0.5)
    assert refunds["auto_applied_share"] == 0.0 and refunds["human_intervention_rate"] == 0.5
    waits = sorted(
        (
            datetime.fromisoformat(next(e["at"] for e in audit if e["type"] == "approval.decided"))
            - datetime.fromisoformat(audit[0]["at"])
        ).total_seconds()
        for audit in (
            requests.get(f"{api}/cases/{cases[n]}/audit", timeout=10).json()["events"]
            for n in ("approved", "rejected")
        )
    )
    assert (refunds["time_to_human_p50_s"], refunds["time_to_human_p90_s"]) == (
        pytest.approx(waits[0], abs=0.01),
        pytest.approx(waits[1], abs=0.01),
    )
    bad = requests.get(f"{api}/kpis", params={"since": "last tuesday"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"


def test_a_failing_webhook_lands_in_its_dead_letter_queue_and_replays(
    emulation: Any, reconciled: Workload
) -> None:
    sqs, env = emulation.client("sqs"), emulation.cli_environment()
    emulation.receiver.inject_faults(410, 1, path_contains=WEBHOOK_PATH)
    case_id = _ticket(emulation, "T-8807")
    assert finished_case(emulation.api_url, case_id)["status"] == "SUCCEEDED"

    def parked() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=env["AIOS_WEBHOOK_DLQ_URL"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return attributes["ApproximateNumberOfMessages"] == "1"

    wait_for(parked, what="the failed delivery in the webhook dead-letter queue")
    assert [r.status for r in _deliveries(emulation, case_id)] == [410]
    replayed = _cli(emulation, "webhooks", "replay", "--all")
    assert replayed.returncode == 0 and "1 webhook deliveries moved back" in replayed.stdout
    delivered = wait_for(
        lambda: [r.status for r in _deliveries(emulation, case_id)] == [410, 200], what="the replay"
    )
    audit = requests.get(f"{emulation.api_url}/cases/{case_id}/audit", timeout=10).json()
    [end] = [e["seq"] for e in audit["events"] if e["type"] == "case.succeeded"]
    assert delivered and {r.json["id"] for r in _deliveries(emulation, case_id)} == {
        f"{case_id}#{end}"
    }
    assert not parked()


def test_closing_figures(emulation: Any, reconciled: Workload) -> None:
    """Prints the KPI table of the workload (`aios kpi`), the alarms on the kit's signals with
    their thresholds, and the time from an action dead-lettering to its case failing."""
    table = _cli(
        emulation,
        "kpi",
        "--since",
        reconciled.started.isoformat(),
        "--until",
        reconciled.ended.isoformat(),
    )
    assert table.returncode == 0, table.stderr
    assert "ticket-triage" in table.stdout and "refund-request" in table.stdout
    print("\n$ aios kpi --since <workload start> --until <workload end>")
    print(table.stdout)
    print("alarms on the kit's signals (namespace AIOS):")
    for alarm in sorted(_kit_alarms(emulation).values(), key=lambda a: a["MetricName"]):
        op = "<" if alarm["ComparisonOperator"] == "LessThanThreshold" else ">"
        print(
            f"  {alarm['MetricName']:<22} {alarm['Statistic']:<8} per {alarm['Period']:>6}s {op} "
            f"{alarm['Threshold']:<5} service={alarm['Dimensions'][0]['Value']}"
        )
    print(
        f"action dead-lettered -> case FAILED, one reconciler run: {reconciled.dead_to_failed_s:.2f} s"
    )


@pytest.fixture(autouse=True)
def _no_leftover_faults(emulation: Any) -> Iterator[None]:
    yield
    requests.delete(f"{emulation.receiver_url}/_faults", timeout=5)
