"""Drift: does the outside system still hold what a recently applied action applied?

For each action APPLIED within the drift window whose capability offers `read_state(params,
ctx)` (what the action touches, as the outside system holds it now), the reconciler compares
the answer with the action and reports a finding when they differ. The answer is in sync when
it says so (`"in_sync": true`, which a reader may decide itself), or, without `in_sync`, when it
holds what the action's params set: every field of the params, recursively, with the same
value (a contact read as `{"contact_id", "fields": {...}}` holds `{"contact_id", "fields":
{"phone": ...}}`). It only reads and reports: it never writes to an outside system and never
changes the action. A state reader that fails is counted as an error, not as drift.
Capabilities with a role of their own (`iam` or `secrets`) are not checked: their role trusts
only the execute function, and the reconciler never acts as a capability.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aios.capabilities import ActionContext, get_capability
from aios.errors import AiosError
from aios.ledger import CaseRef, iso, load_case_items
from aios.memory.context import is_claim
from aios.reconciler.findings import Finding, record
from aios.settings import Settings

DETAIL_MAX_CHARS = 2000


@dataclass
class DriftCheck:
    checked: int = 0
    errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def holds(state: Any, wanted: Any) -> bool:
    """Whether `state` holds `wanted`: every key of a mapping, recursively, with equal values."""
    if isinstance(wanted, dict):
        return isinstance(state, dict) and all(
            key in state and holds(state[key], value) for key, value in wanted.items()
        )
    return bool(state == wanted)


def in_sync(state: dict[str, Any], params: dict[str, Any]) -> bool:
    """The reader's own verdict (`in_sync`), else whether the state holds the params."""
    verdict = state.get("in_sync")
    return verdict if isinstance(verdict, bool) else holds(state, params)


def check_drift(ref: CaseRef, since: datetime, settings: Settings, check: DriftCheck) -> None:
    """Compare the case's actions applied since `since` with the outside system."""
    items = load_case_items(ref.case_id)
    case = next((i for i in items if i.kind == "case"), None)
    tenant = str(((case.data if case else None) or {}).get("tenant") or "")
    for item in items:
        if item.kind != "action" or item.status != "APPLIED":
            continue
        if (item.updated_at or "") < iso(since):
            continue
        data = dict(item.data or {})
        try:
            capability = get_capability(str(data.get("capability")))
        except AiosError:
            continue
        if capability.read_state is None or capability.needs_role:
            # A capability's own role trusts only the execute function: the reconciler never
            # acts as a capability, so readers that need the role or its secret are skipped.
            continue
        ctx = ActionContext(
            case_id=ref.case_id,
            action_id=str(data.get("action_id")),
            entity_key=str(data.get("entity_key")),
            settings=settings,
            capability=capability.name,
            plan_id=str(data.get("plan_id") or ""),
            step=int(data.get("index", 0)),
            tenant=tenant,
            process=ref.process,
            model_id=str(data.get("model_id") or ""),
            prompt_version=str(data.get("prompt_version") or ""),
        )
        if is_claim(data.get("params")):  # large bodies are not drift-checked (README)
            continue
        check.checked += 1
        try:
            params = capability.validate_params(data.get("params") or {})
            state: dict[str, Any] = capability.read_state(params, ctx)
        except Exception as exc:  # boundary: a reader's failure is reported, never fatal
            check.errors.append(f"{ctx.action_id}: {type(exc).__name__}: {exc}"[:300])
            continue
        if in_sync(state, params.model_dump(mode="json")):
            continue
        finding = Finding(
            kind="action_drift",
            case_id=ref.case_id,
            subject=ctx.action_id,
            detail={
                "action_id": ctx.action_id,
                "capability": capability.name,
                "observed": json.dumps(state, default=str, sort_keys=True)[:DETAIL_MAX_CHARS],
            },
        )
        check.findings.append(record(finding))
