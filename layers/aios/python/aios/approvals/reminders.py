"""Reminders: one nudge per level to the approvers of an approval that is still pending.

An approval is due once its process's `remind_after` share of the current level's timeout has
passed and nobody was reminded at this level. Claiming the reminder is a compare-and-set on the
record with an `approval.reminded` audit event: of two concurrent runs, or a run racing a
decision or an escalation, at most one wins. The winner sends; a send that fails after the
claim is not retried (never twice).
"""

from __future__ import annotations

import time

from aios.approvals.records import ApprovalRecord, commit_record
from aios.errors import LedgerConflict
from aios.ledger import now_iso
from aios.ledger.approvals import scan_approvals
from aios.specs import get_spec


def pending_approvals() -> list[ApprovalRecord]:
    """Every approval still waiting (a filtered scan: approvals are few and short-lived)."""
    return [ApprovalRecord.from_item(item) for item in scan_approvals("PENDING")]


def due_for_reminder(record: ApprovalRecord, share: float, now: float | None = None) -> bool:
    """True once `share` of the current level's timeout has passed and nobody was reminded."""
    at = time.time() if now is None else now
    if record.reminded_level >= record.level or record.is_expired(at):
        return False
    return at >= record.level_started_at + share * record.timeout_seconds


def due_reminders(now: float | None = None) -> list[ApprovalRecord]:
    """Pending approvals past their process's `remind_after` share of the level's timeout,
    whose approvers were not yet reminded at this level."""
    return [
        record
        for record in pending_approvals()
        if due_for_reminder(record, get_spec(record.process).policy.approval.remind_after, now)
    ]


def claim_reminder(record: ApprovalRecord) -> bool:
    """Record that the approvers of the approval's current level are being reminded; once.

    False when another run, a decision or an escalation got there first.
    """
    if record.reminded_level >= record.level:
        return False
    claimed = record.model_copy(update={"reminded_level": record.level, "reminded_at": now_iso()})
    event = {
        "approval_id": record.approval_id,
        "level": record.level,
        "approvers": record.approvers,
    }
    try:
        commit_record(claimed, [("approval.reminded", event)])
    except LedgerConflict:
        return False
    return True
