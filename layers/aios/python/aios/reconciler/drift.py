"""Drift: does the outside system still hold what a recently applied action applied?

For each action APPLIED within the drift window whose capability offers `read_state`, the
reconciler asks the capability to read the outside system and reports a finding when the
answer says `in_sync: false`. It only reads and reports: it never writes to an outside system
and never changes the action. A state reader that fails is counted as an error, not as drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aios.capabilities import ActionContext, get_capability
from aios.errors import AiosError
from aios.ledger import CaseRef, iso, load_case_items
from aios.reconciler.findings import Finding, record
from aios.settings import Settings

DETAIL_MAX_CHARS = 2000


@dataclass
class DriftCheck:
    checked: int = 0
    errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


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
        if capability.read_state is None:
            continue
        ctx = ActionContext(
            case_id=ref.case_id,
            action_id=str(data.get("action_id")),
            entity_key=str(data.get("entity_key")),
            settings=settings,
            plan_id=str(data.get("plan_id") or ""),
            step=int(data.get("index", 0)),
            tenant=tenant,
            process=ref.process,
            model_id=str(data.get("model_id") or ""),
            prompt_version=str(data.get("prompt_version") or ""),
        )
        check.checked += 1
        try:
            params = capability.validate_params(data.get("params") or {})
            state: dict[str, Any] = capability.read_state(params, ctx, dict(item.result or {}))
        except Exception as exc:  # boundary: a reader's failure is reported, never fatal
            check.errors.append(f"{ctx.action_id}: {type(exc).__name__}: {exc}"[:300])
            continue
        if state.get("in_sync", True):
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
