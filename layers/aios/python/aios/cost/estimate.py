"""A case's infrastructure usage, estimated from its ledger records.

The ledger knows what happened to a case (its decisions, actions and their gates, approvals,
handoffs, compensation, audit events and their sizes), and the flow (`state_machines/`) fixes
what each of those costs in state transitions, invocations and requests. `case_meter` turns
the records into a `Meter`; `bench/cost_per_case.py` measures the same quantities in the
emulation, and `tests/local/test_cost.py` holds the two together. What the ledger cannot know
is assumed and named: the Lambda duration (`ASSUMED_INVOCATION_SECONDS` at the functions'
memory size) and the log bytes per invocation. Model tokens are not here: the decision's usage
already carries them and their cost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aios.cost.report import Meter

ASSUMED_INVOCATION_SECONDS = 0.1
FUNCTION_MEMORY_MB = 512
LOG_BYTES_PER_INVOCATION = 1500  # the handler's structured lines, EMF metrics, START/END/REPORT
SFN_LOG_BYTES_PER_TRANSITION = 520  # entered and exited events, level ALL, no execution data
KIB = 1024
RAN = ("APPLIED", "FAILED", "COMPENSATED", "REJECTED")
BASIS = (
    "estimated from the case's ledger records with the flow's counts per step; Lambda duration "
    f"assumed {int(ASSUMED_INVOCATION_SECONDS * 1000)} ms per invocation at "
    f"{FUNCTION_MEMORY_MB} MB; bench/cost_per_case.py measures a run"
)


@dataclass(frozen=True)
class Record:
    """One ledger item of the case, as the estimate needs it."""

    kind: str
    status: str
    size: int
    """Its stored size in bytes (attribute names and values)."""
    data: Mapping[str, Any]
    created_at: str = ""


def record_size(fields: Mapping[str, Any]) -> int:
    """About the size DynamoDB bills for an item with these attributes."""
    return sum(len(k) + len(v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items())


def _wru(size: int, transactional: bool = True) -> int:
    return (2 if transactional else 1) * max(1, math.ceil(size / KIB))


def case_path(records: Iterable[Record]) -> str:
    """How the case went: `auto` (every action on the automatic gate), `approved` (a person
    decided an approval) or `handed_off` (a person took the case)."""
    kinds = [(r.kind, r.status) for r in records]
    if any(k == "handoff" for k, _ in kinds):
        return "handed_off"
    if any(k == "approval" for k, _ in kinds):
        return "approved"
    return "auto"


def _transitions(records: list[Record], case_status: str, memory_steps: bool) -> int:
    plans = [r for r in records if r.kind == "plan"]
    handoffs = [r for r in records if r.kind == "handoff"]
    actions = [r for r in records if r.kind == "action"]
    approvals = [r for r in records if r.kind == "approval"]
    n = 2 * (len(plans) + len(handoffs))  # Decide and Decided per round
    for plan in plans:
        planned = _planned(plan, actions)
        if one_message(planned):
            n += 1  # AutoActions: the plan's actions in one message
        else:
            n += 1 + 2 * len(planned)  # Actions, a Gate and one state after it each
    # Approval, AwaitApproval, Approval again, then Execute or Rejected (RequestApproval above);
    # an approved action passes its signed human attestation on first (Attested)
    n += 4 * len(approvals) + sum(1 for a in approvals if a.status == "APPROVED")
    # RecordHandoff, AwaitOperator; once a person moved: ResumeCase, OperatorMove
    n += sum(2 if h.status == "WAITING" else 4 for h in handoffs)
    # A success is recorded on the execution's status change (EventBridge), not by a state.
    if case_status == "FAILED":
        n += 5  # BeginCompensation, MarkCompensating, Compensate, RecordFailure, CaseFailed
    if memory_steps:
        n += 1 + (case_status in ("SUCCEEDED", "FAILED"))  # Recall; Learn at the end
    return n


def _planned(plan: Record, actions: list[Record]) -> list[Mapping[str, Any]]:
    """The plan's actions: those its record lists, else the case's action records of its id."""
    listed = plan.data.get("actions")
    if listed:
        return list(listed)
    plan_id = plan.data.get("plan_id")
    return [a.data for a in actions if plan_id is None or a.data.get("plan_id") in (None, plan_id)]


def one_message(planned: list[Mapping[str, Any]]) -> bool:
    """Whether the plan's actions went to the queue in one message (`aios.plans.one_message`:
    all auto-approved, one entity; their size, which the records do not keep, is assumed to
    fit)."""
    if not planned or any(a.get("gate") != "auto" for a in planned):
        return False
    return len({a.get("entity_key") for a in planned}) == 1


def _messages(plans: list[Record], actions: list[Record]) -> int:
    """Action messages: one per action run, but one for all of a plan's that went together."""
    ran = [a for a in actions if a.status in RAN]
    n = len(ran)
    for plan in plans:
        if one_message(_planned(plan, actions)):
            plan_id = plan.data.get("plan_id")
            together = [a for a in ran if plan_id is None or a.data.get("plan_id") == plan_id]
            n -= max(0, len(together) - 1)
    return n


def kms_signatures(plans: list[Record], approvals: list[Record]) -> int:
    """KMS Sign requests: one per plan, one more for a plan whose auto actions carry a signed
    attestation (the policy's, one for all of them; or the operator's act-by-hand), one per
    approved action (its human attestation). The execution plane signs and fetches nothing
    per action (public keys pinned, or loaded once per cold start)."""
    attested = sum(1 for p in plans if p.data.get("attestation"))
    return len(plans) + attested + sum(1 for a in approvals if a.status == "APPROVED")


def case_meter(records: Iterable[Record], case_status: str, *, memory_steps: bool = False) -> Meter:
    """The case's infrastructure usage, from its ledger records (`Record` per item)."""
    records = list(records)
    by_kind: dict[str, list[Record]] = {}
    for r in records:
        by_kind.setdefault(r.kind, []).append(r)
    case = (by_kind.get("case") or [Record("case", case_status, 600, {})])[0]
    audit = by_kind.get("audit", [])
    plans = by_kind.get("plan", [])
    actions = by_kind.get("action", [])
    approvals = by_kind.get("approval", [])
    handoffs = by_kind.get("handoff", [])
    messages = _messages(plans, actions)
    ended = case_status in ("SUCCEEDED", "FAILED", "RESOLVED", "CANCELLED")
    commits = len({a.created_at for a in audit}) or 1  # one transaction per audit timestamp
    transitions = _transitions(records, case_status, memory_steps)

    invocations = (
        1  # api: the submission
        + len(plans) + len(handoffs)  # decide, per round
        + messages + (case_status == "FAILED")  # execute, per action message, and the rollback
        + ended + len(handoffs) + (case_status == "FAILED")  # finalize
        + 3 * len(approvals)  # approval_request open and await, the approvals answer
        + sum(1 if h.status == "WAITING" else 2 for h in handoffs)  # handoff: await, resume
        + math.ceil(len(audit) / 2)  # case_events, from the ledger's stream
        + (memory_steps * (1 + ended))
    )  # fmt: skip
    wru = sum(_wru(a.size) for a in audit)
    wru += commits * (_wru(case.size) + 1)  # the case's audit head, and its ByProcess entry
    wru += sum(_wru(p.size) for p in plans)
    wru += sum(_wru(a.size) * (1 + (a.status != "PROPOSED")) for a in actions)
    wru += 2 * len([a for a in actions if a.status == "APPLIED"])  # the entity's version
    wru += sum(2 * _wru(r.size) for r in (*approvals, *handoffs))
    meter = Meter()
    for key, quantity in {
        "sfn_transitions": transitions,
        "lambda_requests": invocations,
        "lambda_gb_seconds": invocations * ASSUMED_INVOCATION_SECONDS * FUNCTION_MEMORY_MB / 1024,
        "dynamodb_wru": wru,
        "dynamodb_rru": 2 * invocations,  # the case and the item a step works on, consistently
        # send, receive, delete per action message, and the rollback's
        "sqs_requests": 3 * messages + 3 * (case_status == "FAILED"),
        "kms_asymmetric": kms_signatures(plans, approvals),
        "api_requests": 1 + len(approvals),
        "xray_traces": 1 + math.ceil(len(audit) / 2),
        "log_bytes": invocations * LOG_BYTES_PER_INVOCATION
        + transitions * SFN_LOG_BYTES_PER_TRANSITION,
        "eventbridge_events": len(audit),
    }.items():
        meter.add(key, quantity)
    return meter
