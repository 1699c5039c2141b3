"""The case lifecycle event: one per audit event, with the causal ids of the change.

Each committed change of a case appends exactly one audit event to its chain; the ledger's
stream carries each new audit item once, and the publisher turns it into one `CaseEvent` on
the kit's EventBridge bus (source `aios.kit`, detail-type = `type`). `id` (`<case>#<seq>`) is
stable across redeliveries: consumers deduplicate on it and order a case's events by `seq`.

`EVENT_TYPES` names the types the kit writes today with the fields their `data` always holds;
other types may appear (new features add audit events) and carry their audit data as is. The
JSON schema kept in the repository (`docs/events/case-event.schema.json`) is `json_schema()`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "aios.kit"
VERSION = "1"

# type -> (what it means, the fields its data always holds)
EVENT_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "case.received": ("a case was submitted", ("process", "input_digest")),
    "case.running": ("the decision plane took the case", ()),
    "plan.signed": ("a plan was signed", ("plan_id", "action_digests", "key_id", "expires_at")),
    "plan.superseded": ("a reviewer's changes replaced the plan", ("plan_id", "by")),
    "action.proposed": ("a plan proposed an action", ("action_id", "digest", "gate")),
    "action.attested": ("an action may run (policy or people)", ("action_id", "type", "digest")),
    "action.skipped": ("an action will not run (denied, rejected, timed out)", ("action_id",)),
    "action.superseded": ("a re-plan replaced an unapplied action", ("action_id", "by")),
    "action.applied": ("an action was applied", ("action_id", "digest", "result")),
    "action.rejected": ("the execution plane refused an action", ("action_id", "code")),
    "action.failed": ("the outside system refused an action for good", ("action_id", "code")),
    "action.dead_lettered": ("an action gave up in the dead-letter queue", ("action_id", "code")),
    "action.compensated": ("an applied action was undone", ("action_id", "result")),
    "approval.requested": ("people were asked to approve", ("approval_id", "action_id")),
    "approval.decided": ("one person decided", ("approval_id", "approver", "decision")),
    "approval.escalated": ("an approval moved to the next level", ("approval_id", "level")),
    "approval.timed_out": ("nobody decided in time", ("approval_id", "outcome")),
    "approval.reminded": ("approvers were reminded", ("approval_id",)),
    "decision.handed_off": ("the decision plane gave the case to a person", ("reason",)),
    "case.handed_off": ("the case waits for a person", ("handoff",)),
    "case.compensating": ("the case failed and rolls back", ("error",)),
    "compensation.rejected": ("a compensation request was refused", ("code",)),
    "case.succeeded": ("the case finished", ()),
    "case.failed": ("the case failed (with what was undone)", ()),
    "reconciler.finding": ("the reconciler found the case stuck or drifting", ("kind",)),
}
TERMINAL_TYPES = ("case.succeeded", "case.failed", "case.handed_off")


class CaseEvent(BaseModel):
    """The `detail` of a case lifecycle event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(default=VERSION, description="schema version of this envelope")
    id: str = Field(description="`<case_id>#<seq>`: unique per change, stable across retries")
    type: str = Field(pattern=r"^[a-z][a-z_]*\.[a-z][a-z_]*$", description="the audit event type")
    at: str = Field(description="when the change was committed (ISO 8601, UTC)")
    seq: int = Field(ge=1, description="position on the case's audit chain: order by it")
    tenant: str
    process: str
    case_id: str
    plan_id: str | None = None
    action_id: str | None = None
    step: int | None = Field(default=None, ge=0, description="the action's index in the plan")
    model_id: str | None = Field(default=None, description="the model whose answer proposed it")
    prompt_version: str | None = None
    audit_hash: str = Field(description="the audit event's hash on the case's chain")
    webhook: bool = Field(
        default=False, description="whether the process's webhook subscribes to this event"
    )
    data: dict[str, Any] = Field(description="the audit event's data")


def json_schema() -> dict[str, Any]:
    """The JSON schema of `CaseEvent`, with what each known type's `data` always holds."""
    schema = CaseEvent.model_json_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["$id"] = "https://aios.kit/schemas/case-event.schema.json"
    schema["description"] = (
        "The detail of an AIOS Kit case lifecycle event (source aios.kit, detail-type = type)."
    )
    schema["allOf"] = [
        {
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": {
                "description": meaning,
                "properties": {"data": {"type": "object", "required": list(fields)}},
            },
        }
        for name, (meaning, fields) in EVENT_TYPES.items()
        if fields
    ]
    return schema
