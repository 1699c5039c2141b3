"""The demo's story of a case: what was decided, what waited for whom, what changed where,
what it cost and the audit verdict — read from the API, the ledger and the emulated outside
systems, told in a few lines instead of raw dumps.

`approve_as_reviewer` plays the person an approval waits for (the demo runs unattended): it
opens their link from the emulated SES outbox, reads the page and approves, as a click would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import requests

LINK = re.compile(r'href="([^"]+/approvals/[^"?]+\?t=[^"]+)"')


def approve_as_reviewer(emu: Any, case_id: str, timeout: float = 120.0) -> dict[str, str]:
    """Approve the case's pending approval through its emailed link; who and what was shown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in emu.ses_outbox():
            match = LINK.search(mail["body"])
            if match and f"/approvals/{case_id}." in match.group(1):
                link = match.group(1).replace("&amp;", "&")
                page = requests.get(link, timeout=30).text
                url, _, token = link.partition("?t=")
                requests.post(url, data={"t": token, "decision": "approve"}, timeout=30)
                return {
                    "approver": mail["destinations"]["ToAddresses"][0],
                    "preview": "shown" if "id=preview" in page else "none",
                    "digest": "bound" if "matches the approved digest" in page else "-",
                }
        time.sleep(0.2)
    return {}


def story(case: dict[str, Any], audit: dict[str, Any], approval: dict[str, str]) -> list[str]:
    """The case as a short story (see the module docstring)."""
    lines = [f"Case {case.get('case_id')} ({case.get('process')}): {case.get('status')}"]
    plan = case.get("plan") or {}
    lines.append(f"Decided: {plan.get('summary') or case.get('summary') or '-'}")
    if case.get("handoff"):
        h = case["handoff"]
        lines.append(f"Handed to a person: {h.get('reason')} - {h.get('detail')}")
    for action in case.get("actions") or []:
        lines.extend(_action_lines(action, approval))
    lines.extend(cost_lines(case.get("usage") or {}))
    chain = audit.get("chain") or {}
    verdict = "verified" if chain.get("valid") else "INVALID"
    lines.append(f"Audit chain {verdict}: {chain.get('length')} events")
    return lines


def _action_lines(action: dict[str, Any], approval: dict[str, str]) -> list[str]:
    attestation = action.get("attestation") or {}
    who = (
        f"approved by {', '.join(attestation.get('approvers') or [])}"
        if attestation.get("type") == "human"
        else f"automatic ({attestation.get('rule', 'policy')})"
    )
    out = [f"- {action.get('capability')}: {action.get('status')}, {who}"]
    if action.get("gate") == "approve" and approval:
        out.append(
            f"  waited for {approval.get('approver')} (preview {approval.get('preview')}, "
            f"approval {approval.get('digest')} to the digest)"
        )
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


def cost_lines(usage: dict[str, Any]) -> list[str]:
    """The decision's cost report: model tokens by step, cache hits, answers reused."""
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


def tell(
    emu: Any, case_id: str, get: Callable[[str], dict[str, Any]], approve: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Follow a case to its end (approving as the reviewer when it waits) and tell it."""
    approval: dict[str, str] = {}
    deadline = time.monotonic() + 240
    case: dict[str, Any] = {}
    while time.monotonic() < deadline:
        case = get(f"/cases/{case_id}")
        status = case.get("status")
        if status == "WAITING_APPROVAL" and approve and not approval:
            approval = approve_as_reviewer(emu, case_id)
        if status in ("SUCCEEDED", "FAILED", "HANDED_OFF", "RESOLVED", "CANCELLED"):
            break
        time.sleep(0.2)
    return case, story(case, get(f"/cases/{case_id}/audit"), approval)


def content_lines(case: dict[str, Any]) -> list[str]:
    """What a content case staged and published, and its model cost by step (the lines the
    kit's story in `local/story.py` does not tell); empty for other cases."""
    out: list[str] = []
    for action in case.get("actions") or []:
        result = action.get("result") or {}
        if result.get("staged") or result.get("published"):
            out.extend(_action_lines(action, {}))
    if (case.get("usage") or {}).get("by_step"):
        out.extend(cost_lines(case.get("usage") or {}))
    return out
