"""The approval page: what a reviewer sees behind their link, and the answers to a decision.

Every value shown is HTML-escaped. The page loads nothing from elsewhere (its style is inline),
so `HEADERS` can forbid everything else: the token is in the URL, and the page must never be
framed nor send it on as a referrer.
"""

from __future__ import annotations

import html
from typing import Any

from aios.approvals.decide import Decided
from aios.approvals.links import verify_link_token
from aios.approvals.notices import ReviewContext, expires_iso, json_dump, page_context
from aios.approvals.records import ApprovalRecord, changes_allowed, rule_of
from aios.capabilities import get_capability
from aios.errors import AiosError
from aios.tenants import entity_tenant

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "pre{background:#f4f4f4;padding:.75rem;overflow:auto}dt{font-weight:600}"
    ".risk-high{color:#b00}.risk-medium{color:#a60}button{font-size:1rem;margin-right:.5rem;padding:.4rem 1rem}"
    "textarea{width:100%;min-height:4rem}.preview{overflow:auto}"
    "table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ccc;"
    "padding:.3rem;vertical-align:top;white-space:pre-wrap;min-width:10rem}"
)
ERROR_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Already decided",
    410: "Expired",
}
DECIDED_TEXT = {
    "APPROVED": "Approved: the action will run.",
    "REJECTED": "Rejected: the action will not run.",
    "CHANGES_REQUESTED": "Changes requested: the case goes back to planning with your comment.",
    "PENDING": "Recorded: waiting for the other approvers.",
}


def document(title: str, body: str) -> str:
    """A whole page: `title` (escaped here) over `body` (HTML, escaped by the caller)."""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<meta name=viewport content='width=device-width'><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def message_page(title: str, text: str) -> str:
    return document(title, f"<p id=message>{html.escape(text)}</p>")


def error_page(status: int, text: str) -> str:
    """The page of a refused request, titled by its HTTP status."""
    return message_page(ERROR_TITLES.get(status, "Cannot decide"), text)


def decided_page(decided: Decided) -> str:
    """The answer to a decision: what happens next."""
    return message_page("Thank you", DECIDED_TEXT[decided.status])


def review_page(key: bytes, approval_id: str, token: str) -> str:
    """The page of a pending approval for the approver the link token names.

    LinkForbidden or LinkExpired for a bad token, AlreadyDecided once the approval closed.
    Showing the page never changes anything.
    """
    approver = verify_link_token(key, approval_id, token)
    ctx = page_context(approval_id)
    if not ctx.approval.is_pending:
        raise ctx.approval.closed()
    return document("Approval needed", _review(ctx, approver, token))


def _review(ctx: ReviewContext, approver: str, token: str) -> str:
    record, action, esc = ctx.approval, ctx.action, html.escape
    risk = esc(ctx.risk)
    return (
        f"<p id=summary>{esc(ctx.summary)}</p>"
        f"<dl><dt>Case</dt><dd>{esc(ctx.case_id)} ({esc(ctx.process)})</dd>"
        f"<dt>Action</dt><dd><code id=capability>{esc(str(action.get('capability')))}</code></dd>"
        f"<dt>Risk</dt><dd id=risk class='risk-{risk}'>{risk}</dd>"
        f"<dt>Why</dt><dd id=reason>{esc(str(action.get('reason') or ''))}</dd>"
        f"<dt>Parameters</dt><dd><pre id=params>{esc(json_dump(action.get('params')))}</pre></dd>"
        f"{preview_tables(action)}"
        f"<dt>Input</dt><dd><pre id=input>{esc(json_dump(ctx.input))}</pre></dd>"
        f"<dt>Classification</dt><dd><pre>{esc(json_dump(ctx.classification))}</pre></dd>"
        f"<dt>Policy</dt><dd>rule {esc(rule_of(record).name)}: "
        f"{record.quorum} of {len(record.approvers)} approvers</dd>"
        f"<dt>Decisions</dt><dd><ul>{_decisions(record)}</ul></dd>"
        f"<dt>Decide before</dt><dd>{esc(expires_iso(record.expires_at))}</dd>"
        f"<dt>Digest</dt><dd><code>{esc(record.digest)}</code></dd></dl>"
        f"<p>You are deciding as <b id=approver>{esc(approver)}</b>.</p>"
        f"{_form(record, token)}"
    )


def preview_tables(action: dict[str, Any]) -> str:
    """The capability's preview of the action (`Capability.preview`), every cell escaped; an
    empty string when it has none, and a note instead of the tables when it fails."""
    esc = html.escape
    try:
        capability = get_capability(str(action.get("capability")))
        if capability.preview is None:
            return ""
        tables = capability.preview(
            capability.validate_params(action.get("params") or {}),
            entity_tenant(str(action.get("entity_key") or "")),
        )
    except AiosError as exc:
        return f"<dt>Preview</dt><dd id=preview>no preview: {esc(exc.message)}</dd>"
    out = []
    for table in tables:
        head = "".join(f"<th>{esc(str(c))}</th>" for c in table.get("columns", []))
        rows = "".join(
            "<tr>" + "".join(f"<td>{esc(str(cell))}</td>" for cell in row) + "</tr>"
            for row in table.get("rows", [])
        )
        out.append(
            f"<h3>{esc(str(table.get('title', '')))}</h3>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
    return f"<dt>Preview</dt><dd id=preview class=preview>{''.join(out)}</dd>"


def _decisions(record: ApprovalRecord) -> str:
    esc = html.escape
    items = (
        f"<li>{esc(d.approver)}: {esc(d.decision)} at {esc(d.at)}</li>" for d in record.decisions
    )
    return "".join(items) or "<li>none yet</li>"


def _form(record: ApprovalRecord, token: str) -> str:
    esc = html.escape
    changes = "<button name=decision value=changes>Request changes</button>"
    return (
        f"<form method=post action='{esc(record.approval_id)}'>"
        f"<input type=hidden name=t value='{esc(token)}'>"
        "<label for=comment>Comment</label>"
        "<textarea id=comment name=comment maxlength=2000></textarea><p>"
        "<button name=decision value=approve>Approve</button>"
        "<button name=decision value=reject>Reject</button>"
        f"{changes if changes_allowed(record) else ''}</p></form>"
    )
