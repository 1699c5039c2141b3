"""From a ledger stream record to a case event: the audit event joined with its causal ids.

Only new audit items become events (one audit item = one committed change). The causal ids
come from the ledger as committed: tenant and process from the case, plan, step, model id and
prompt version from the action the event names (or from the plan for plan and case events).
Reads are cached per batch: a case's events usually arrive together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aios.errors import ProcessNotFound
from aios.events.envelope import TERMINAL_TYPES, CaseEvent
from aios.ledger import get_action, get_case, load_plans
from aios.specs import get_spec

_ACTION_INDEX = re.compile(r"\.a(\d+)$")


@dataclass(frozen=True)
class AuditRecord:
    """A new audit item as the stream carries it."""

    case_id: str
    seq: int
    type: str
    at: str
    data: dict[str, Any]
    hash: str


def audit_record(image: Mapping[str, Any]) -> AuditRecord | None:
    """The audit event of a case in a stream record's new image; None for any other item,
    including the events of the control chain and of orphan rejections (no case of theirs)."""
    if image.get("kind") != "audit" or not str(image.get("sk", "")).startswith("AUDIT#"):
        return None
    if not str(image.get("pk", "")).startswith("CASE#"):
        return None
    raw = image.get("data")
    data = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    return AuditRecord(
        case_id=str(image["pk"]).removeprefix("CASE#"),
        seq=int(image["seq"]),
        type=str(image["status"]),
        at=str(image["created_at"]),
        data=data,
        hash=str(image["head"]),
    )


@dataclass
class CausalLookup:
    """Ledger reads behind the causal ids, cached for one batch."""

    _cases: dict[str, tuple[str, str]] = field(default_factory=dict)
    _actions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _plans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def case(self, case_id: str) -> tuple[str, str]:
        """(tenant, process)."""
        if case_id not in self._cases:
            data = get_case(case_id).data
            self._cases[case_id] = (str(data.get("tenant", "")), str(data.get("process", "")))
        return self._cases[case_id]

    def action(self, case_id: str, index: int) -> dict[str, Any]:
        if (case_id, index) not in self._actions:
            item = get_action(case_id, index)
            self._actions[case_id, index] = dict((item.data if item else None) or {})
        return self._actions[case_id, index]

    def plan(self, case_id: str, plan_id: str | None) -> dict[str, Any]:
        """The named plan, or the case's latest; {} when it has none."""
        if case_id not in self._plans:
            self._plans[case_id] = [dict(p.data or {}) for p in load_plans(case_id)]
        plans = self._plans[case_id]
        if plan_id is not None:
            return next((p for p in plans if p.get("plan_id") == plan_id), {})
        return plans[-1] if plans else {}


def action_index(action_id: str) -> int | None:
    """The index of an action from its id (`<case>.p<n>.a<index>`)."""
    match = _ACTION_INDEX.search(action_id)
    return int(match.group(1)) if match else None


def _webhook_wants(process: str, type_: str) -> bool:
    try:
        webhook = get_spec(process).webhook
    except ProcessNotFound:
        return False
    return webhook is not None and type_ in (webhook.events or TERMINAL_TYPES)


def case_event(record: AuditRecord, lookup: CausalLookup) -> CaseEvent:
    """The case event of one audit record, with every causal id the ledger knows."""
    tenant, process = lookup.case(record.case_id)
    action_id = record.data.get("action_id") or record.data.get("approval_id")
    causal: dict[str, Any] = {}
    index = action_index(str(action_id)) if action_id else None
    if action_id and index is not None:
        action = lookup.action(record.case_id, index)
        causal = {
            "action_id": str(action_id),
            "step": index,
            "plan_id": action.get("plan_id"),
            "model_id": action.get("model_id") or None,
            "prompt_version": action.get("prompt_version") or None,
        }
    else:
        plan = lookup.plan(record.case_id, record.data.get("plan_id"))
        usage = plan.get("usage") or {}
        causal = {
            "plan_id": plan.get("plan_id"),
            "model_id": (usage.get("models") or {}).get("plan"),
            "prompt_version": (usage.get("prompts") or {}).get("plan"),
        }
    return CaseEvent(
        id=f"{record.case_id}#{record.seq}",
        type=record.type,
        at=record.at,
        seq=record.seq,
        tenant=tenant,
        process=process,
        case_id=record.case_id,
        audit_hash=record.hash,
        webhook=_webhook_wants(process, record.type),
        data=record.data,
        **causal,
    )
