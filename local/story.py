"""The story of one case, as `aios demo` prints it: short, readable, from what the API serves.

Built from the case view (`GET /cases/{id}`), its audit events (`GET /cases/{id}/audit`) and
what the outside systems recorded (the receiver's requests carrying the case's idempotency
keys), for any process: what was decided and by which model, what waited for whom and how long,
what changed where, which rules allowed or blocked each action, what it cost, and the audit
verdict. Pure functions: no I/O, so the story is tested on fixtures.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

MARKS = {"APPLIED": "done", "REJECTED": "BLOCKED", "FAILED": "FAILED", "SKIPPED": "skipped",
         "COMPENSATED": "undone", "PROPOSED": "waiting", "APPROVED": "approved"}  # fmt: skip


def _seconds(start: str | None, end: str | None) -> float | None:
    try:
        return (
            datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
        ).total_seconds()
    except (TypeError, ValueError):
        return None


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _params(params: dict[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if not isinstance(v, str) or len(v) <= 60}
    hidden = sorted(set(params) - set(shown))
    text = ", ".join(f"{k}={_short(v, 60)}" for k, v in shown.items())
    return text + (f", ({', '.join(hidden)} …)" if hidden else "")


def _events(audit: dict[str, Any], kind: str, action_id: str = "") -> list[dict[str, Any]]:
    return [
        e
        for e in audit.get("events") or []
        if e.get("type") == kind
        and (not action_id or (e.get("data") or {}).get("action_id") == action_id)
    ]


def _waits(audit: dict[str, Any], action_id: str) -> list[str]:
    """Who the action waited for, how long, and what they decided."""
    lines = []
    for asked in _events(audit, "approval.requested", action_id):
        data = asked.get("data") or {}
        approvers = data.get("approvers") or []
        who = ", ".join(approvers) if isinstance(approvers, list) else str(approvers)
        decided = [
            e
            for e in _events(audit, "approval.decided")
            if (e.get("data") or {}).get("approval_id") == data.get("approval_id")
        ]
        line = f"waited for {who} (approval rule {data.get('rule')})"
        for done in decided:
            d = done.get("data") or {}
            took = _seconds(asked.get("at"), done.get("at"))
            line += f"; {d.get('approver')} {d.get('decision')}d"
            line += f" after {took:.1f} s" if took is not None else ""
            line += f" via {d.get('via')}" if d.get("via") else ""
        lines.append(line)
    return lines


def _rules(audit: dict[str, Any], action: dict[str, Any]) -> str:
    action_id = str(action.get("action_id"))
    applied = _events(audit, "action.applied", action_id)
    if applied:
        held = (applied[-1].get("data") or {}).get("rules") or []
        return "allowed by: " + "; ".join(held) if held else ""
    error = action.get("error") or {}
    for rejected in _events(audit, "action.rejected", action_id):
        error = (rejected.get("data") or {}).get("error") or rejected.get("data") or error
    if action.get("status") == "REJECTED" or error.get("rules"):
        rules = "; ".join(error.get("rules") or []) or error.get("code", "")
        return f"blocked by the execution plane: {rules} ({error.get('code', 'rejected')})"
    return ""


def _changes(requests: list[dict[str, Any]], case_id: str, systems: dict[str, str]) -> list[str]:
    """The outside systems' own records of the case's calls (idempotency key = action id)."""
    lines = []
    for r in requests:
        key = str(r.get("idempotency_key") or "")
        if not key.startswith(case_id):
            continue
        path = str(r.get("path") or "")
        target, _, rest = path.lstrip("/").partition("/")
        system = f"{systems[target]} ({target})" if target in systems else target
        lines.append(
            f"  {system:<30} {r.get('method')} /{rest} -> {r.get('status')}"
            f"  (Idempotency-Key …{key[-8:]})"
        )
    return lines


def _decision(case: dict[str, Any], audit: dict[str, Any]) -> list[str]:
    plan = case.get("plan") or {}
    c = plan.get("classification") or {}
    usage = case.get("usage") or {}
    models = ", ".join(usage.get("model_ids") or []) or "-"
    lines = []
    if c:
        lines.append(
            f"Decided   {c.get('intent')} (urgency {c.get('urgency')}, risk {c.get('risk')}, "
            f"confidence {float(c.get('confidence') or 0):.2f}) by {models}"
        )
    if plan.get("summary"):
        lines.append(f"          plan: {_short(plan.get('summary'), 80)}, signed")
    for why in usage.get("refused") or []:
        lines.append(f"          a first answer was refused before signing: {_short(why, 200)}")
    handoff = case.get("handoff") or {}
    if handoff:
        lines.append(
            f"Handed off to a person: {handoff.get('reason')} — {_short(handoff.get('detail'), 120)}"
        )
        for told in _events(audit, "handoff.notified"):
            notified = (told.get("data") or {}).get("notified") or []
            lines.append(f"          waits for: {', '.join(map(str, notified)) or 'the queue'}")
    return lines


def _action_lines(case: dict[str, Any], audit: dict[str, Any]) -> list[str]:
    lines = []
    for n, action in enumerate(case.get("actions") or [], start=1):
        status = str(action.get("status"))
        lines.append(
            f"  {n}. {action.get('capability'):<20} {MARKS.get(status, status):<8} "
            f"gate {action.get('gate')}: {_params(action.get('params') or {})}"
        )
        lines += [f"       {w}" for w in _waits(audit, str(action.get("action_id")))]
        if rules := _rules(audit, action):
            lines.append(f"       {_short(rules, 300)}")
        if action.get("result"):
            lines.append(f"       result: {_short(action.get('result'), 120)}")
    return lines


def render(
    case: dict[str, Any],
    audit: dict[str, Any],
    requests: list[dict[str, Any]],
    elapsed_s: float | None = None,
    systems: dict[str, str] | None = None,
) -> str:
    """The story (see the module docstring); `systems` names the system behind a receiver
    target (a loopback service's name for each capability it mounts)."""
    case_id = str(case.get("case_id"))
    took = f" in {elapsed_s:.1f} s" if elapsed_s is not None else ""
    usage = case.get("usage") or {}
    chain = audit.get("chain") or {}
    received = {k: v for k, v in (case.get("input") or {}).items() if isinstance(v, str)}
    lines = [
        f"{case.get('process')} · case {case_id} · {case.get('status')}{took}",
        "",
        f"Received  {_params(received)}",
        *_decision(case, audit),
        "",
        "Actions (in plan order; gate = what the policy asked for)",
        *(_action_lines(case, audit) or ["  none"]),
        "",
        "Changed where (what the outside systems recorded)",
        *(_changes(requests, case_id, systems or {}) or ["  nothing"]),
        "",
        f"Cost      {usage.get('calls', 0)} model calls, {usage.get('input_tokens', 0)} tokens in / "
        f"{usage.get('output_tokens', 0)} out, USD {float(usage.get('cost_usd') or 0):.6f}"
        f" (cache hits {((usage.get('cache') or {}).get('hits', 0))})",
        f"Audit     chain {'VALID' if chain.get('valid') else 'INVALID'}: "
        f"{chain.get('length')} events, head {str(chain.get('head'))[:16]}…",
    ]
    return "\n".join(lines)


def _content_action(action: dict[str, Any]) -> list[str]:
    attestation = action.get("attestation") or {}
    who = (
        f"approved by {', '.join(attestation.get('approvers') or [])}"
        if attestation.get("type") == "human"
        else f"automatic ({attestation.get('rule', 'policy')})"
    )
    out = [f"- {action.get('capability')}: {action.get('status')}, {who}"]
    result = action.get("result") or {}
    for staged in result.get("staged", []):
        out.append(f"  ledger: {staged['key']} v{staged['version']} {staged['effect']}")
        for lang, note in (staged.get("translations") or {}).items():
            out.append(f"    {lang}: {note}")
    for pub in result.get("published", []):
        out.append(
            f"  {pub['platform']}: {pub['item']} v{pub['version']} {pub['effect']}"
            f" (remote id {pub.get('remote_id')})"
        )
    if action.get("error"):
        out.append(f"  refused: {action['error'].get('message', action['error'])}")
    return out


def _cost_by_step(usage: dict[str, Any]) -> list[str]:
    out = [
        f"Cost: {usage.get('calls', 0)} model calls, {usage.get('input_tokens', 0)} tokens in /"
        f" {usage.get('output_tokens', 0)} out, {float(usage.get('cost_usd') or 0):.6f} USD;"
        f" cache hits {(usage.get('cache') or {}).get('hits', 0)}"
    ]
    for step, s in sorted((usage.get("by_step") or {}).items()):
        out.append(
            f"  {step}: {s['calls']} calls, {s['input_tokens']}/{s['output_tokens']} tokens,"
            f" {s['cache_hits']} cache hits, {s['reused']} reused, {s['cost_usd']:.6f} USD"
        )
    return out


def content_lines(case: dict[str, Any]) -> list[str]:
    """What a content case staged and published (versions, each language's scores and
    glossary hits, each platform's publication) and its model cost by step, for the lines
    `render` does not tell; empty for other cases."""
    out: list[str] = []
    for action in case.get("actions") or []:
        result = action.get("result") or {}
        if result.get("staged") or result.get("published"):
            out.extend(_content_action(action))
    if (case.get("usage") or {}).get("by_step"):
        out.extend(_cost_by_step(case.get("usage") or {}))
    return out
