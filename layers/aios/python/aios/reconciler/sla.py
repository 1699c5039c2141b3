"""Cases waiting for people past their service level, read from the ledger (never repaired).

- An approval still PENDING longer than its process's `policy.approval.sla_minutes` after it
  was requested, or, without that setting, past its current level's deadline (by then the case
  machine should have escalated or closed it). Once per approval.
- A HANDED_OFF case not taken by a person (no `operator.*` event after its last
  `case.handed_off` event) longer than its process's `policy.handoff.sla_minutes`. Once per
  handoff. (The handoff function reminds the handlers at the same moment; this is what the
  `handoffs_past_sla` alarm counts, for every process at once.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aios.approvals.records import approvals_in
from aios.audit import AuditEvent
from aios.errors import ProcessNotFound
from aios.ledger import CaseRecord, load_audit, load_case_items
from aios.reconciler.findings import Finding, record
from aios.specs import HandoffPolicy, ProcessSpec, get_spec


def _spec(case: CaseRecord) -> ProcessSpec | None:
    try:
        return get_spec(str(case.data.get("process", "")))
    except ProcessNotFound:
        return None


def approvals_past_sla(case: CaseRecord, now: datetime) -> list[Finding]:
    """Pending approvals of a WAITING_APPROVAL case past their SLA, each recorded once."""
    spec = _spec(case)
    sla = spec.policy.approval.sla_minutes if spec else None
    found = []
    for approval in approvals_in(load_case_items(case.case_id)):
        if not approval.is_pending:
            continue
        due = approval.requested_at + sla * 60 if sla is not None else float(approval.expires_at)
        if now.timestamp() < due:
            continue
        finding = Finding(
            kind="approval_past_sla",
            case_id=case.case_id,
            subject=approval.approval_id,
            detail={
                "approval_id": approval.approval_id,
                "action_id": approval.action_id,
                "level": approval.level,
                "waiting_seconds": round(now.timestamp() - approval.requested_at),
                "sla_minutes": sla,
            },
        )
        found.append(record(finding))
    return found


DEFAULT_HANDOFF_SLA_MINUTES = HandoffPolicy().sla_minutes


def _handoff_sla_minutes(spec: ProcessSpec | None) -> float:
    """The process's `policy.handoff.sla_minutes` (the default for a process no longer known)."""
    return spec.policy.handoff.sla_minutes if spec else DEFAULT_HANDOFF_SLA_MINUTES


def _untaken_handoff(events: list[AuditEvent]) -> AuditEvent | None:
    """The last `case.handed_off` event if no person took the case after it."""
    last = None
    for event in events:
        if event.type == "case.handed_off":
            last = event
        elif last is not None and event.type.startswith("operator."):
            last = None
    return last


def handoff_past_sla(case: CaseRecord, now: datetime) -> Finding | None:
    """The finding about a HANDED_OFF case nobody took within its SLA, recorded once."""
    handed = _untaken_handoff(load_audit(case.case_id))
    if handed is None:
        return None
    sla = _handoff_sla_minutes(_spec(case))
    since = datetime.fromisoformat(handed.at)
    if now - since < timedelta(minutes=sla):
        return None
    reason = (handed.data.get("handoff") or {}).get("reason") or handed.data.get("reason")
    finding = Finding(
        kind="handoff_past_sla",
        case_id=case.case_id,
        subject=f"handoff-{handed.seq}",
        detail={
            "reason": reason,
            "handed_off_at": handed.at,
            "waiting_seconds": round((now - since).total_seconds()),
            "sla_minutes": sla,
        },
    )
    return record(finding)
