"""Case lifecycle events: from the ledger's new audit items to schema-valid events with their
causal ids, published in order, and signed webhook deliveries classified by outcome."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import boto3
import fastjsonschema
import pytest
from aios.capabilities.http_post import sign_body
from aios.errors import RetryableActionError, TerminalActionError
from aios.events import (
    AuditRecord,
    CaseEvent,
    CausalLookup,
    audit_record,
    case_event,
    deliver,
    json_schema,
    parse_delivery,
    publish,
)
from aios.ledger import load_audit
from aios.settings import Settings

from tests.model_fakes import ScriptedProvider
from tests.reliability.conftest import Peer
from tests.unit.test_tiering import GOOD_CLASS, config, new_case

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "events" / "case-event.schema.json"
PLAN = {
    "summary": "triage, then tell the helpdesk",
    "actions": [
        {"capability": "ledger.update_entity", "params": {"set": {"status": "triaged"}}},
        {
            "capability": "http.post",
            "params": {
                "target": "helpdesk",
                "path": "/tickets/T-1001/triage",
                "body": {"ticket_id": "T-1001", "intent": "billing"},
            },
        },
    ],
}


def test_the_schema_kept_in_the_repository_is_the_models() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()


def test_only_new_audit_items_become_events() -> None:
    image = {
        "pk": "CASE#c1", "sk": "AUDIT#0000000003", "kind": "audit", "status": "plan.signed",
        "data": json.dumps({"plan_id": "c1.p1"}), "seq": 3, "head": "ab" * 32,
        "created_at": "2026-03-02T09:00:00.000+00:00",
    }  # fmt: skip
    assert audit_record(image) == AuditRecord(
        "c1", 3, "plan.signed", "2026-03-02T09:00:00.000+00:00", {"plan_id": "c1.p1"}, "ab" * 32
    )
    assert audit_record({**image, "kind": "action", "sk": "ACTION#000"}) is None
    assert audit_record({**image, "sk": "CASE", "kind": "case"}) is None
    # the control chain's and an orphan rejection's events belong to no case
    assert audit_record({**image, "pk": "CONTROL"}) is None
    assert audit_record({**image, "pk": "REJECTION#m-1"}) is None


@pytest.fixture
def decided_case(ledger: str, kms: Any, plan_key: str) -> str:
    from aios.planning import decide_case

    case = new_case()
    provider = ScriptedProvider(classify=[GOOD_CLASS], plan=[PLAN])
    decide_case(case, models=config(provider), kms=kms, key_id=plan_key, ttl_seconds=600)
    return case.case_id


def test_each_change_is_one_event_with_its_causal_ids_and_valid(decided_case: str) -> None:
    validate = fastjsonschema.compile(json.loads(SCHEMA_FILE.read_text()))
    lookup = CausalLookup()
    events = [
        case_event(AuditRecord(e.case_id, e.seq, e.type, e.at, e.data, e.hash), lookup)
        for e in load_audit(decided_case)
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events] == [
        "case.received", "case.running", "plan.signed",
        "action.proposed", "action.attested", "action.proposed", "action.attested",
    ]  # fmt: skip
    for event in events:
        validate(event.model_dump(mode="json"))
        assert (event.tenant, event.process, event.case_id) == ("t1", "ticket-triage", decided_case)
        assert event.id == f"{decided_case}#{event.seq}"
    plan, second = events[2], events[5]
    assert plan.plan_id == f"{decided_case}.p1" and plan.model_id == "large-a"
    assert plan.prompt_version is not None and plan.prompt_version.startswith(
        "ticket-triage.plan.v1@"
    )
    # An action's event carries the model and prompt version that proposed that action.
    assert (second.action_id, second.step, second.plan_id) == (
        f"{decided_case}.p1.a1", 1, f"{decided_case}.p1",
    )  # fmt: skip
    assert (second.model_id, second.prompt_version) == (plan.model_id, plan.prompt_version)
    assert not any(e.webhook for e in events)  # ticket-triage's webhook wants the case's end


def test_the_webhook_flag_follows_the_processs_webhook(decided_case: str) -> None:
    lookup = CausalLookup()
    done = case_event(
        AuditRecord(decided_case, 9, "case.succeeded", "2026-03-02T09:00:00+00:00", {}, "x"), lookup
    )
    assert done.webhook is True
    # The schema insists on what each known type's data holds.
    validate = fastjsonschema.compile(json.loads(SCHEMA_FILE.read_text()))
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate({**done.model_dump(mode="json"), "type": "action.applied", "data": {}})


class FakeBus:
    def __init__(self, refuse: int | None = None) -> None:
        self.refuse = refuse
        self.sent: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        results = []
        for entry in Entries:
            refused = self.refuse is not None and len(self.sent) == self.refuse
            self.sent.append(entry)
            results.append({"ErrorCode": "ThrottlingException"} if refused else {"EventId": "e"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def _events(n: int) -> list[CaseEvent]:
    return [
        CaseEvent(
            id=f"c#{i}", type="case.running", at="2026-03-02T09:00:00+00:00", seq=i,
            tenant="t", process="p", case_id="c", audit_hash="h", data={},
        )
        for i in range(1, n + 1)
    ]  # fmt: skip


def test_publish_puts_in_order_ten_at_a_time_and_stops_at_the_first_refusal() -> None:
    bus = FakeBus()
    assert publish(_events(23), "bus", bus) is None
    assert [json.loads(e["Detail"])["seq"] for e in bus.sent] == list(range(1, 24))
    assert {e["Source"] for e in bus.sent} == {"aios.kit"} and bus.sent[0]["EventBusName"] == "bus"
    refused = FakeBus(refuse=13)
    assert publish(_events(23), "bus", refused) == 13
    assert len(refused.sent) == 20  # the rest is retried from the stream, not put out of order


def _settings(peer_url: str, secret_arn: str) -> Settings:
    return Settings.model_validate(
        {
            "AIOS_HTTP_TARGETS": json.dumps({"helpdesk": peer_url}),
            "AIOS_HTTP_SECRET_ARN": secret_arn,
        }
    )


def test_a_delivery_is_signed_keyed_by_the_event_and_classified(aws: None, peer: Peer) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="keys", SecretString=json.dumps({"helpdesk": "k3y"})
    )["ARN"]
    settings = _settings(peer.url, arn)
    [event] = _events(1)
    done = event.model_copy(update={"type": "case.succeeded", "process": "ticket-triage"})
    body = json.dumps({"detail-type": done.type, "detail": done.model_dump(mode="json")})
    assert deliver(parse_delivery(body), settings, now=1_700_000_000)["status"] == 200
    [sent] = peer.requests
    assert sent["path"] == "/aios/events" and sent["key"] == done.id
    assert sent["body"] == done.model_dump(mode="json")
    expected = hmac.new(b"k3y", b"v1:1700000000:" + sent["raw"], hashlib.sha256).hexdigest()
    assert sent["signature"] == f"v1={expected}" == sign_body("k3y", "1700000000", sent["raw"])
    peer.fail_next.extend([503, 410])
    with pytest.raises(RetryableActionError):
        deliver(done, settings)
    with pytest.raises(TerminalActionError):
        deliver(done, settings)
    with pytest.raises(TerminalActionError):  # not an event the webhook subscribes to
        deliver(done.model_copy(update={"type": "action.applied"}), settings)
    with pytest.raises(TerminalActionError):  # a process without a webhook
        deliver(done.model_copy(update={"process": "refund-request"}), settings)
    with pytest.raises(TerminalActionError):
        parse_delivery('{"detail": {"id": 1}}')
