"""Cases: submission, the read model, and the terminal outcome."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from aios.audit import verify_chain
from aios.cost.estimate import BASIS, Record, case_meter, case_path, record_size
from aios.cost.prices import load_prices
from aios.cost.report import price
from aios.errors import CaseNotFound, IdempotencyConflict, InvalidInput, LedgerConflict
from aios.ledger import (
    CaseRecord,
    LedgerItem,
    create_case,
    get_case,
    load_audit,
    load_case_items,
    transition_case,
)
from aios.signing import digest
from aios.specs import get_spec

OPEN = ("RECEIVED", "RUNNING", "WAITING_APPROVAL")
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")

StartExecution = Callable[[str, dict[str, Any]], None]


def case_links(case_id: str) -> dict[str, str]:
    return {"self": f"/cases/{case_id}", "audit": f"/cases/{case_id}/audit"}


def case_id_for(tenant: str, process: str, idempotency_key: str | None) -> str:
    """A new id, or the one id that a (tenant, process, key) can ever map to."""
    if idempotency_key is None:
        return f"c-{uuid.uuid4().hex}"
    if not _KEY.match(idempotency_key):
        raise InvalidInput(
            "Idempotency-Key: must be 1-128 printable ASCII characters", field="Idempotency-Key"
        )
    scoped = "\0".join((tenant, process, idempotency_key)).encode()
    return f"c-{hashlib.sha256(scoped).hexdigest()[:32]}"


def parse_body(body: str | None) -> Any:
    if body is None or not body.strip():
        raise InvalidInput("body: a JSON object is required", field="<body>")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"body: invalid JSON: {exc}", field="<body>") from exc


def submit_case(
    process: str,
    body: str | None,
    *,
    tenant: str,
    idempotency_key: str | None,
    start_execution: StartExecution,
) -> dict[str, Any]:
    """Record a case and start its execution, once per idempotency key.

    The case record is the idempotency record: its id derives from the key, so a replay finds
    it; a replay with another body is refused; a replay after a crash restarts the execution,
    which Step Functions deduplicates by name.
    """
    spec = get_spec(process)
    data = spec.validate_input(parse_body(body))
    case_id = case_id_for(tenant, process, idempotency_key)
    input_digest = digest(data)
    try:
        record = create_case(
            case_id,
            "RECEIVED",
            {
                "process": process,
                "process_version": spec.version,
                "tenant": tenant,
                "input": data,
                "input_digest": input_digest,
                "idempotency_key": idempotency_key,
            },
            [("case.received", {"process": process, "input_digest": input_digest})],
        )
    except LedgerConflict:
        record = get_case(case_id)
        if record.data.get("input_digest") != input_digest:
            raise IdempotencyConflict(
                "Idempotency-Key was already used with a different body", case_id=case_id
            ) from None
    start_execution(
        case_id, {"case_id": case_id, "tenant": tenant, "process": process, "input": data}
    )
    return {"case_id": case_id, "status": record.status, "links": case_links(case_id)}


def _action_view(item: LedgerItem) -> dict[str, Any]:
    data = dict(item.data or {})
    return {
        "action_id": data.get("action_id"),
        "index": data.get("index"),
        "capability": data.get("capability"),
        "params": data.get("params"),
        "risk": data.get("risk"),
        "reason": data.get("reason"),
        "gate": data.get("gate"),
        "digest": data.get("digest"),
        "status": item.status,
        "attestation": data.get("attestation"),
        "result": item.result,
        "error": item.error,
        "updated_at": item.updated_at,
    }


def tenant_case(case_id: str, tenant: str | None) -> CaseRecord:
    """The case, if it belongs to `tenant` (None: any tenant, for the planes' own reads).

    Another tenant's case is reported exactly like a missing one: a caller learns nothing
    about cases that are not its tenant's, not even that they exist.
    """
    case = get_case(case_id)
    if tenant is not None and case.data.get("tenant") != tenant:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def case_view(case_id: str, tenant: str | None = None) -> dict[str, Any]:
    """The case as a client sees it: status, plan, actions with their status, timestamps,
    and the spec (name, version, content hash) its plan was made and signed under."""
    case = tenant_case(case_id, tenant)
    plan: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    actions: list[dict[str, Any]] = []
    items = load_case_items(case_id)
    for item in items:
        if item.kind == "plan":
            plan = dict(item.data or {})
        elif item.kind == "action":
            actions.append(_action_view(item))
        if item.kind in ("plan", "handoff"):
            usage = (item.data or {}).get("usage")  # model usage and cost of the decision
    return {
        "case_id": case_id,
        "process": case.data.get("process"),
        "tenant": case.data.get("tenant"),
        "status": case.status,
        "input": case.data.get("input"),
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "plan": plan,
        "spec": ((plan or {}).get("signed") or {}).get("envelope", {}).get("spec"),
        "actions": actions,
        "error": case.data.get("error"),
        "compensation": case.data.get("compensation"),
        "handoff": case.data.get("handoff"),
        "resolution": case.data.get("resolution"),
        "usage": usage,
        "cost": case_cost(case.status, items),
    }


def cost_records(items: list[LedgerItem]) -> list[Record]:
    """The case's ledger items as the cost estimate reads them."""
    records = []
    for item in items:
        fields = {k: v for k, v in item.attribute_values.items() if v is not None}
        records.append(
            Record(
                kind=item.kind,
                status=item.status or "",
                size=record_size(fields),
                data=dict(item.data or {}),
                created_at=item.created_at or "",
            )
        )
    return records


def case_cost(status: str, items: list[LedgerItem], region: str | None = None) -> dict[str, Any]:
    """What the case cost: its infrastructure, estimated from its ledger records and priced
    with the price table (the function's region), and its model usage as recorded by each
    decision; in total, per item, and per 1,000 cases like it."""
    records = cost_records(items)
    prices = load_prices(region or os.environ.get("AWS_REGION"))
    memory_steps = os.environ.get("AIOS_MEMORY_STEPS") == "true"  # the api function's flag
    report = price(case_meter(records, status, memory_steps=memory_steps), prices)
    model_usd = sum(
        float(((i.data or {}).get("usage") or {}).get("cost_usd") or 0)
        for i in items
        if i.kind in ("plan", "handoff")
    )
    total = report.infrastructure_usd + model_usd
    return {
        "usd": round(total, 8),
        "usd_per_1000_cases": round(total * 1000, 4),
        "infrastructure_usd": round(report.infrastructure_usd, 8),
        "model_usd": round(model_usd, 8),
        "path": case_path(records),
        "region": prices.region,
        "prices_as_of": prices.as_of,
        "items": [
            {
                "item": line.key,
                "quantity": round(line.quantity, 4),
                "unit": line.unit,
                "usd": round(line.usd, 10),
            }
            for line in report.infrastructure
            if line.quantity
        ]
        + [
            {
                "item": "model",
                "quantity": None,
                "unit": "USD (decision usage)",
                "usd": round(model_usd, 10),
            }
        ],
        "basis": BASIS,
    }


def audit_view(case_id: str, tenant: str | None = None) -> dict[str, Any]:
    case = tenant_case(case_id, tenant)
    events = load_audit(case_id)
    verdict = verify_chain(events, case.seq, case.head)
    return {
        "case_id": case_id,
        "events": [e.model_dump(exclude={"case_id"}) for e in events],
        "chain": verdict.model_dump(exclude_none=True),
    }


COMPENSATION_KEY_FIELD = "compensation_key_sha256"


def compensation_key_hash(key: str) -> str:
    """What the ledger keeps of a compensation key: its SHA-256, never the key."""
    return hashlib.sha256(key.encode()).hexdigest()


HANDED_OFF = "HANDED_OFF"
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "SUCCEEDED": OPEN,
    # A handoff whose wait timed out with the policy's on_timeout "fail" is compensated too.
    "COMPENSATING": (*OPEN, HANDED_OFF),
    "FAILED": (*OPEN, "COMPENSATING"),
    # The decision plane gave the case to a person (see aios.plans.HandoffReason); it waits.
    HANDED_OFF: OPEN,
    # A person closed a handed-off case (aios.operator): with an outcome and a note, or
    # withdrawn. "Return to automation" and "act by hand" move it back to RUNNING.
    "RESOLVED": (HANDED_OFF,),
    "CANCELLED": (HANDED_OFF,),
}
TERMINAL = ("SUCCEEDED", "FAILED", "RESOLVED", "CANCELLED")


def finalize_case(
    case_id: str,
    outcome: str,
    error: dict[str, Any] | None = None,
    compensation: dict[str, Any] | None = None,
    handoff: dict[str, Any] | None = None,
    compensation_key: str | None = None,
) -> str:
    """Move a case towards its end once: SUCCEEDED, HANDED_OFF (it waits for a person), or
    COMPENSATING then FAILED.

    The reason is recorded when the case starts compensating, with the hash of the case
    machine's one-time compensation key (execute undoes nothing without the key); FAILED adds
    what was undone.
    A repeat (a retried Lambda) returns the status the case has and writes nothing.
    """
    if outcome not in TRANSITIONS:
        raise InvalidInput(f"outcome must be one of {sorted(TRANSITIONS)}")
    # No read first: commit reads the case head anyway, and its condition refuses a repeat.
    reason = _reason(error) if error else None
    undone = _compensation(compensation) if compensation else None
    handed = _handoff(handoff) if handoff else None

    def changes(current: CaseRecord) -> dict[str, Any]:
        data = dict(current.data)
        if reason:
            data["error"] = reason
        if undone is not None:
            data["compensation"] = undone
        if handed is not None:
            data["handoff"] = handed
        if compensation_key:
            data[COMPENSATION_KEY_FIELD] = compensation_key_hash(compensation_key)
        return data

    details = {
        k: v
        for k, v in (("error", reason), ("compensation", undone), ("handoff", handed))
        if v is not None
    }
    try:
        transition_case(
            case_id,
            [(f"case.{outcome.lower()}", details)],
            to_status=outcome,
            from_statuses=TRANSITIONS[outcome],
            data=changes,
        )
    except LedgerConflict:
        return get_case(case_id).status
    return outcome


def _handoff(handoff: dict[str, Any]) -> dict[str, Any]:
    """What the case keeps of a handoff: the reason, the detail and which handoff it is."""
    kept = {"reason": str(handoff.get("reason", "")), "detail": str(handoff.get("detail", ""))}
    kept["detail"] = kept["detail"][:2000]
    if handoff.get("handoff_id"):
        kept["handoff_id"] = str(handoff["handoff_id"])
    return kept


def _compensation(result: dict[str, Any]) -> dict[str, Any]:
    """What the execute function reported, or the error that stopped it."""
    if "Error" in result:
        return {"failed": _reason(result)}
    return {k: result.get(k, []) for k in ("compensated", "not_compensable")}


def _reason(error: dict[str, Any]) -> dict[str, Any]:
    """Step Functions' {Error, Cause}; Cause may itself be JSON from a Lambda error."""
    cause: Any = error.get("Cause")
    if isinstance(cause, str):
        with contextlib.suppress(ValueError):
            cause = json.loads(cause)
    if isinstance(cause, dict) and "errorMessage" in cause:
        cause = {"type": cause.get("errorType"), "message": cause.get("errorMessage")}
    return {"error": error.get("Error", "Unknown"), "cause": cause}
