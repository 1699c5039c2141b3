"""People in the loop, on the ledger in-process: roles, the hand-made action check, taking
(compare-and-set), each move as one transaction naming the person, the queues, resuming the
wait, and Decide signing an operator's actions with a human attestation."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from aios import cases
from aios.budget import reserve_budget
from aios.errors import (
    AttestationInvalid,
    BudgetExhausted,
    CapabilityNotAllowed,
    CaseNotWaiting,
    Forbidden,
    HeldByOther,
    InvalidInput,
    InvalidParams,
)
from aios.execution import verify_action
from aios.handoffs import wait
from aios.handoffs.records import load_handoff
from aios.ledger import get_case, load_audit, put_rejection
from aios.operator import (
    Operator,
    act_by_hand,
    can,
    cancel,
    capability_forms,
    case_page,
    list_queue,
    moves,
    release,
    require,
    resolve,
    return_to_automation,
    take,
)
from aios.planning import CaseInput, decide_case
from aios.plans import ActionMessage
from aios.settings import load_settings
from aios.specs import get_spec

from tests.conftest import keyring_of
from tests.model_fakes import CountingOffline
from tests.unit.test_tiering import config

ANA = Operator(username="ana", groups=frozenset({"operator"}))
BOB = Operator(username="bob", groups=frozenset({"operator:ticket-triage"}))
EVE = Operator(username="eve", groups=frozenset({"approver"}))
ROOT = Operator(username="root", groups=frozenset({"admin"}))
HELPDESK_POST = {
    "capability": "http.post",
    "params": {"target": "helpdesk", "path": "/tickets/T-1001/notes", "body": {"note": "hi"}},
}


def _submit(process: str, body: dict[str, Any]) -> CaseInput:
    started: list[dict[str, Any]] = []
    cases.submit_case(
        process,
        json.dumps(body),
        tenant="t1",
        idempotency_key=None,
        start_execution=lambda _cid, inp: started.append(inp),
    )
    return CaseInput(**started[0])


@pytest.fixture
def handed_off(ledger, kms, plan_key, decision_table):
    """A case of `process` handed off because its tenant's budget is gone; returns its id."""

    def make(process: str = "ticket-triage") -> str:
        spec = get_spec(process)
        limits = spec.decision.budget
        with contextlib.suppress(BudgetExhausted):  # gone already for an earlier case
            reserve_budget("t1", process, limits, limits.daily_usd, 0)
        case = _submit(process, spec.example_input)
        decision = decide_case(
            case,
            models=config(CountingOffline(), enforce_budgets=True),
            kms=kms,
            key_id=plan_key,
            ttl_seconds=600,
        )
        assert decision.handoff is not None and decision.handoff.reason == "BUDGET_EXHAUSTED"
        status = cases.finalize_case(
            case.case_id, "HANDED_OFF", handoff=decision.handoff.model_dump()
        )
        assert status == "HANDED_OFF"
        return case.case_id

    return make


def _events(case_id: str) -> list[str]:
    return [e.type for e in load_audit(case_id)]


def _decide_again(case_id: str, kms: Any, plan_key: str) -> Any:
    """What the case machine does after a move: resume, then Decide with the revision."""
    handoff_id = get_case(case_id).data["handoff"]["handoff_id"]
    resumed = wait.resume(case_id, handoff_id, timed_out=False)
    assert resumed.move in ("return", "manual") and resumed.revision is not None
    case = get_case(case_id)
    payload = {
        "case_id": case_id,
        "tenant": case.data["tenant"],
        "process": case.data["process"],
        "input": case.data["input"],
        "revision": resumed.revision,
    }
    return decide_case(
        CaseInput.model_validate(payload),
        models=config(CountingOffline()),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )


def test_roles_are_groups_optionally_per_process_and_admin_has_every_role() -> None:
    assert can(ANA, "operator", "refund-request") and not can(ANA, "approver", "refund-request")
    assert can(BOB, "operator", "ticket-triage") and not can(BOB, "operator", "refund-request")
    assert not can(BOB, "operator")  # a process-scoped role is not a global one
    assert all(can(ROOT, role, "any") for role in ("operator", "approver", "admin"))
    with pytest.raises(Forbidden) as refused:
        require(EVE, "operator", "ticket-triage")
    assert refused.value.code == "FORBIDDEN" and refused.value.details["role"] == "operator"


def test_a_hand_made_action_outside_the_capability_model_or_the_allowed_set_is_refused_naming_the_field(
    handed_off,
) -> None:
    case_id = handed_off()
    before = _events(case_id)
    bad_params = {**HELPDESK_POST, "params": {"target": "helpdesk", "path": "relative"}}
    with pytest.raises(InvalidParams) as invalid:
        act_by_hand(case_id, ANA, [bad_params])
    assert invalid.value.code == "INVALID_PARAMS"
    assert set(invalid.value.details["fields"]) == {
        "actions[0].params.path",
        "actions[0].params.body",
    }
    with pytest.raises(CapabilityNotAllowed) as not_allowed:
        act_by_hand(case_id, ANA, [HELPDESK_POST, {"capability": "email.send", "params": {}}])
    assert not_allowed.value.details["field"] == "actions[1].capability"
    with pytest.raises(InvalidInput) as shape:
        act_by_hand(case_id, ANA, [{**HELPDESK_POST, "run_as": "root"}])
    assert shape.value.details["field"] == "actions[0].run_as"
    with pytest.raises(InvalidInput):
        act_by_hand(case_id, ANA, [])
    # Nothing was recorded: the case still waits, untaken, on the same chain.
    assert _events(case_id) == before and get_case(case_id).holder is None
    assert load_handoff(case_id, get_case(case_id).data["handoff"]["handoff_id"])[0].status == (
        "WAITING"
    )


def test_two_operators_taking_the_same_case_one_wins_and_the_other_is_told_who_holds_it(
    handed_off, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = handed_off()
    real = moves.hold_case

    def bob_lands_first(*args: Any, **kwargs: Any) -> None:
        # Bob's take lands between Ana's read (untaken) and her compare-and-set.
        monkeypatch.setattr(moves, "hold_case", real)
        take(case_id, BOB)
        real(*args, **kwargs)

    monkeypatch.setattr(moves, "hold_case", bob_lands_first)
    with pytest.raises(HeldByOther) as lost:
        take(case_id, ANA)
    assert lost.value.code == "HELD_BY_OTHER" and lost.value.details["holder"] == "bob"
    page = case_page(case_id)
    assert page.holder == "bob" and _events(case_id).count("operator.took") == 1
    took = next(e for e in page.timeline if e["type"] == "operator.took")
    assert took["data"]["operator"] == "bob" and page.chain["valid"]
    # Only the holder moves a taken case; an admin may take it over.
    with pytest.raises(HeldByOther):
        return_to_automation(case_id, ANA, "try again")
    assert take(case_id, BOB).holder == "bob" and _events(case_id).count("operator.took") == 1
    assert take(case_id, ROOT).holder == "root"
    assert release(case_id, ROOT).holder is None
    assert _events(case_id)[-2:] == ["operator.took", "operator.released"]


def test_an_operator_of_another_process_may_not_touch_the_case(handed_off) -> None:
    case_id = handed_off("refund-request")
    for move in (lambda: take(case_id, BOB), lambda: cancel(case_id, EVE, "no")):
        with pytest.raises(Forbidden):
            move()
    assert get_case(case_id).status == "HANDED_OFF"


def test_return_to_automation_replans_with_the_note_and_the_same_gates(
    handed_off, kms, plan_key
) -> None:
    case_id = handed_off()
    with pytest.raises(InvalidInput) as no_note:
        return_to_automation(case_id, ANA, "  ")
    assert no_note.value.details["field"] == "note"
    page = return_to_automation(case_id, ANA, "budget raised, plan it")
    assert page.status == "RUNNING" and page.holder is None
    assert page.handoff is not None and page.handoff.status == "RETURNED"
    assert page.handoff.move["operator"] == "ana"
    assert _events(case_id)[-2:] == ["operator.took", "operator.returned"]
    decision = _decide_again(case_id, kms, plan_key)
    assert decision.plan is not None and decision.plan.envelope.plan_id == f"{case_id}.p2"
    assert [a.gate for a in decision.actions] == ["auto", "auto"]
    assert all(
        a.attestation["type"] == "policy" for a in case_page(case_id).actions
    )  # the same gates as any plan
    with pytest.raises(CaseNotWaiting):
        resolve(case_id, ANA, "done", "")


def test_acting_by_hand_signs_the_actions_with_a_human_attestation_naming_the_operator(
    handed_off, kms, plan_key
) -> None:
    case_id = handed_off()
    take(case_id, ANA)
    page = act_by_hand(case_id, ANA, [HELPDESK_POST], note="posted the note myself")
    assert page.status == "RUNNING" and page.handoff.status == "ACTED"
    assert page.handoff.move["actions"] == [{**HELPDESK_POST, "reason": ""}]
    decision = _decide_again(case_id, kms, plan_key)
    [action] = decision.actions
    assert action.gate == "auto" and action.capability == "http.post"
    assert decision.plan.envelope.action_digests[-1] == action.digest_hex
    [view] = case_page(case_id).actions
    assert view.status == "APPROVED"
    assert view.attestation["type"] == "human" and view.attestation["operator"] == "ana"
    assert view.attestation["digest"] == action.digest_hex
    assert decision.usage["calls"] == 0  # no model was asked
    # The operator's own signed attestation (human key, made when the move was recorded)
    # binds what they checked; the execution plane verifies it with no ledger row's help.
    signed = decision.attestation
    assert signed is not None and signed.claim.operator == "ana"
    assert signed.claim.type == "human" and signed.claim.binds == "content"
    message = ActionMessage(task_token="t", plan=decision.plan, action=action, attestation=signed)
    env = {"AIOS_LEDGER_TABLE": "ledger", "AIOS_HTTP_TARGETS": '{"helpdesk": "http://h"}'}
    verified = verify_action(
        message, keyring=keyring_of(kms, plan_key), settings=load_settings(env)
    )
    assert verified.rules[0] == "auto: risk medium <= medium"  # the gate the spec derives
    forged = signed.claim.model_copy(update={"operator": "eve"})
    with pytest.raises(AttestationInvalid):
        verify_action(
            message.model_copy(update={"attestation": signed.model_copy(update={"claim": forged})}),
            keyring=keyring_of(kms, plan_key),
            settings=load_settings(env),
        )
    again = _decide_again(case_id, kms, plan_key)  # a retried Decide signs nothing new
    assert again.model_dump() == decision.model_dump()


def test_resolve_and_cancel_close_the_case_with_who_and_why(handed_off) -> None:
    resolved, cancelled = handed_off(), handed_off()
    with pytest.raises(InvalidInput):
        resolve(resolved, ANA, "", "no outcome")
    page = resolve(resolved, ANA, "refunded by phone", "customer called")
    assert page.status == "RESOLVED" and page.resolution["outcome"] == "refunded by phone"
    assert _events(resolved)[-2:] == ["operator.resolved", "case.resolved"]
    page = cancel(cancelled, ROOT, "duplicate ticket")
    assert page.status == "CANCELLED" and page.resolution["operator"] == "root"
    for case_id in (resolved, cancelled):
        with pytest.raises(CaseNotWaiting):
            take(case_id, ANA)
        handoff_id = get_case(case_id).data["handoff"]["handoff_id"]
        assert wait.resume(case_id, handoff_id, timed_out=False).move in ("resolve", "cancel")


def test_queues_list_handed_off_and_failed_cases_and_rejections_oldest_first(
    handed_off,
) -> None:
    first, second = handed_off(), handed_off("refund-request")
    take(second, ANA)
    entries = list_queue("handoffs")
    assert [e.case_id for e in entries] == [first, second]
    assert entries[1].holder == "ana" and entries[0].reason == "BUDGET_EXHAUSTED"
    assert entries[0].sla_seconds == get_spec("ticket-triage").policy.handoff.sla_seconds
    assert [e.case_id for e in list_queue("handoffs", oldest_first=False)] == [second, first]
    assert [e.case_id for e in list_queue("handoffs", process="refund-request")] == [second]
    assert len(list_queue("handoffs", limit=1)) == 1
    cancel(first, ANA, "")
    assert [e.case_id for e in list_queue("handoffs")] == [second]
    put_rejection("m-1", {"code": "MALFORMED_MESSAGE", "message": "not JSON"}, "{")
    [orphan] = list_queue("rejections")
    assert orphan.case_id is None and orphan.code == "MALFORMED_MESSAGE"
    assert orphan.message_id == "m-1"
    assert list_queue("failed") == []


def test_a_move_made_before_the_wait_kept_its_token_is_answered_by_the_wait(
    handed_off, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = handed_off()
    handoff_id = get_case(case_id).data["handoff"]["handoff_id"]
    cancel(case_id, ANA, "")
    answered: list[str] = []
    monkeypatch.setattr(wait, "succeed_task", lambda token, _out: answered.append(token))
    from aios.settings import Settings

    awaited = wait.await_operator(case_id, handoff_id, "token-1", Settings())
    assert awaited.answered and answered == ["token-1"] and awaited.notified == []


@pytest.mark.parametrize(
    ("process", "outcome", "status"),
    [("ticket-triage", "fail", "HANDED_OFF"), ("refund-request", "resolve", "RESOLVED")],
)
def test_the_final_timeout_ends_the_wait_as_the_policy_says(
    handed_off, process: str, outcome: str, status: str
) -> None:
    case_id = handed_off(process)
    handoff_id = get_case(case_id).data["handoff"]["handoff_id"]
    resumed = wait.resume(case_id, handoff_id, timed_out=True)
    assert resumed.move == outcome and resumed.timed_out
    assert get_case(case_id).status == status  # fail: the machine compensates next
    assert "handoff.timed_out" in _events(case_id)
    with pytest.raises(CaseNotWaiting):
        take(case_id, ANA) if status != "HANDED_OFF" else return_to_automation(case_id, ANA, "x")
    again = wait.resume(case_id, handoff_id, timed_out=True)
    assert again.move == outcome and _events(case_id).count("handoff.timed_out") == 1


def test_capability_forms_describe_what_an_operator_may_act_with() -> None:
    forms = {f["capability"]: f for f in capability_forms("ticket-triage")}
    assert set(forms) == {"ledger.update_entity", "http.post"}
    assert forms["http.post"]["risk"] == "medium"
    assert {"target", "path", "body"} <= set(forms["http.post"]["params_schema"]["properties"])


def _with_policy(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """ticket-triage as Decide sees it, with its policy or decision spec changed."""
    from aios import planning

    spec = get_spec("ticket-triage")
    policy = spec.policy.model_copy(update=changes.pop("policy", {}))
    decision = spec.decision.model_copy(update=changes.pop("decision", {}))
    changed = spec.model_copy(update={"policy": policy, "decision": decision})
    monkeypatch.setattr(planning, "get_spec", lambda _name: changed)


def test_a_denied_action_hands_the_case_off_when_the_process_says_so(
    ledger, kms, plan_key, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_policy(monkeypatch, policy={"deny": ["http.post"], "deny_action": "handoff"})
    case = _submit("ticket-triage", get_spec("ticket-triage").example_input)
    decision = decide_case(
        case, models=config(CountingOffline()), kms=kms, key_id=plan_key, ttl_seconds=600
    )
    assert decision.plan is None and decision.handoff.reason == "POLICY_DENIED"
    assert "http.post" in decision.handoff.detail
    record, _ = load_handoff(case.case_id, decision.handoff.handoff_id)
    proposed = [a["capability"] for a in record.proposal["actions"]]
    assert proposed == ["ledger.update_entity", "http.post"]  # kept for the person, unsigned
    assert case_page(case.case_id).plans == []


def test_low_confidence_hands_off_but_not_once_an_operator_returned_the_case(
    ledger, kms, plan_key, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_policy(monkeypatch, decision={"handoff_below_confidence": 0.95})
    case = _submit("ticket-triage", get_spec("ticket-triage").example_input)
    decision = decide_case(
        case, models=config(CountingOffline()), kms=kms, key_id=plan_key, ttl_seconds=600
    )
    assert decision.handoff.reason == "LOW_CONFIDENCE" and "0.90 < 0.95" in decision.handoff.detail
    cases.finalize_case(case.case_id, "HANDED_OFF", handoff=decision.handoff.model_dump())
    return_to_automation(case.case_id, ANA, "it is a billing ticket, go ahead")
    replanned = _decide_again(case.case_id, kms, plan_key)
    assert replanned.plan is not None and replanned.handoff is None


def test_a_review_after_an_operator_return_is_a_new_round(handed_off, kms, plan_key) -> None:
    """Rounds are numbered by the decisions made, whatever asked for them: a reviewer's
    request for changes after an operator's return gets its own plan, never the earlier one."""
    case_id = handed_off()
    return_to_automation(case_id, ANA, "plan it")
    returned = _decide_again(case_id, kms, plan_key)
    case = get_case(case_id)
    review = {"round": 1, "comment": "post the triage only", "approval_id": f"{case_id}.p2.a2"}
    payload = {
        "case_id": case_id,
        "tenant": case.data["tenant"],
        "process": case.data["process"],
        "input": case.data["input"],
        "revision": review,
    }
    reviewed = decide_case(
        CaseInput.model_validate(payload),
        models=config(CountingOffline()),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    ids = [returned.plan.envelope.plan_id, reviewed.plan.envelope.plan_id]
    assert ids == [f"{case_id}.p2", f"{case_id}.p3"]


@pytest.fixture
def notifying(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The approvals secret and sender the handoff function notifies with (SES, no Slack)."""
    import boto3
    from aios.settings import Settings

    secret = boto3.client("secretsmanager").create_secret(
        Name="approvals", SecretString=json.dumps({"link_key": "a2V5", "slack_bot_token": ""})
    )
    boto3.client("ses").verify_email_identity(EmailAddress="approvals@example.com")
    return Settings.model_validate(
        {
            "AIOS_APPROVALS_SECRET_ARN": secret["ARN"],
            "AIOS_APPROVALS_SENDER": "approvals@example.com",
            "AIOS_PUBLIC_API_URL": "https://api.example.com/prod/",
        }
    )


def _sent() -> list[dict[str, Any]]:
    from moto.backends import get_backend

    backend = get_backend("ses")["123456789012"]["us-east-1"]
    return [
        {"to": m.destinations["ToAddresses"], "subject": m.subject, "body": m.body}
        for m in backend.sent_messages
    ]


def test_the_handlers_are_told_once_and_reminded_once_when_the_sla_passes(
    handed_off, notifying
) -> None:
    case_id = handed_off()
    handoff_id = get_case(case_id).data["handoff"]["handoff_id"]
    awaited = wait.await_operator(case_id, handoff_id, "token-1", notifying)
    assert awaited.first and awaited.notified == ["support-lead"]
    [mail] = _sent()
    assert mail["to"] == ["lead@support.example.com"]
    assert f"https://api.example.com/prod/console/cases/{case_id}" in mail["body"]
    again = wait.await_operator(case_id, handoff_id, "token-2", notifying)  # after the SLA wait
    assert not again.first and len(_sent()) == 1
    record, _ = load_handoff(case_id, handoff_id)
    remaining = wait.remind(case_id, handoff_id, notifying, now=record.due_at + 1)
    assert remaining == int(record.expires_at - record.due_at - 1)
    wait.remind(case_id, handoff_id, notifying, now=record.due_at + 2)
    reminders = [m for m in _sent() if m["subject"].startswith("Reminder")]
    assert len(reminders) == 1 and _events(case_id).count("handoff.sla_missed") == 1
    assert case_page(case_id).handoff.reminded == ["support-lead"]


def test_pending_approvals_are_listed_with_their_rule_and_timeout(
    ledger, kms, plan_key, decision_table
) -> None:
    from aios import approvals

    case = _submit("refund-request", get_spec("refund-request").example_input)
    decision = decide_case(
        case, models=config(CountingOffline()), kms=kms, key_id=plan_key, ttl_seconds=600
    )
    [action] = decision.actions
    assert action.gate == "approve"
    approvals.open_approval(case.case_id, action.action_id, action.index)
    [entry] = list_queue("approvals")
    assert entry.case_id == case.case_id and entry.approval_id == action.action_id
    assert entry.reason == "approval rule refund-over-50" and entry.sla_seconds == 86400
    assert entry.tenant == "t1" and entry.status == "PENDING"
    assert case_page(case.case_id).approvals[0].status == "PENDING"
