"""The case page and the act-by-hand page, rendered from `aios.operator.CasePage`.

The case page shows the case's summary and handoff, the moves the person may make (each a POST
form carrying the CSRF token), the approvals with who decided what and when (and a decision
form for a pending one), the latest plan and each action with its status, attestation and
result, model usage and cost, the input and classification, and the timeline from the audit
chain with the verifier's verdict. Forms are only offered to people with the role for the
case's process; the library checks again on every move.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from aios.console.forms import fields, params_from_form
from aios.console.markup import esc, hidden, pretty
from aios.console.queues import age_text
from aios.errors import InvalidInput
from aios.operator import ActionView, ApprovalView, CasePage, Operator, can, require

WAITING = "HANDED_OFF"
MAX_ACTIONS = 1  # one action per act-by-hand form; act again for more


def require_viewer(operator: Operator, process: str) -> None:
    """Forbidden unless the person is an operator or an approver of the process."""
    if not can(operator, "approver", process):
        require(operator, "operator", process)


def _dl(rows: Sequence[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _form(action: str, csrf: str, inner: str, button: str, *, id_: str) -> str:
    return (
        f"<form method=post id='{esc(id_)}' action='{esc(action)}'>{hidden('csrf', csrf)}"
        f"{inner}<button>{esc(button)}</button></form>"
    )


def _summary(view: CasePage) -> str:
    rows = [
        ("Status", f"<b id=status>{esc(view.status)}</b>"),
        ("Process", f"<span id=process>{esc(view.process)}</span> (tenant {esc(view.tenant)})"),
        ("Held by", f"<span id=holder>{esc(view.holder or 'nobody')}</span>"),
        ("Created", esc(view.created_at)),
        ("Updated", esc(view.updated_at)),
    ]
    handoff = view.handoff
    if handoff is not None:
        sla = "overdue" if handoff.overdue else f"due {esc(handoff.due_at)}"
        rows += [
            ("Handed off because", f"<span id=handoff-reason>{esc(handoff.reason)}</span>"),
            ("Detail", f"<span id=handoff-detail>{esc(handoff.detail)}</span>"),
            ("SLA", f"{esc(age_text(handoff.sla_seconds))}, {sla}"),
        ]
        if handoff.memory_summary:
            rows.append(("What memory recalled", esc(handoff.memory_summary)))
        if handoff.proposal:
            rows.append(("The model proposed (unsigned)", f"<pre>{pretty(handoff.proposal)}</pre>"))
    if view.resolution:
        rows.append(("Resolution", f"<pre id=resolution>{pretty(view.resolution)}</pre>"))
    if view.error:
        rows.append(("Error", f"<pre id=error>{pretty(view.error)}</pre>"))
    plan = view.plan
    if plan is not None:
        rows.insert(0, ("Summary", f"<span id=summary>{esc(plan.summary)}</span>"))
    return f"<section id=case-summary><h2>Summary</h2>{_dl(rows)}</section>"


def _moves(base: str, view: CasePage, who: Operator, csrf: str) -> str:
    if view.status != WAITING or not can(who, "operator", view.process):
        return ""
    at = f"{base}/cases/{quote(view.case_id)}"
    holding = view.holder == who.username
    hold = (
        _form(f"{at}/release", csrf, "", "Release", id_="release")
        if holding
        else _form(f"{at}/take", csrf, "", "Take", id_="take")
    )
    note = "<label for=return-note>Note for the planner *</label>"
    note += "<textarea id=return-note name=note required maxlength=2000></textarea>"
    resolve = (
        "<label for=outcome>Outcome *</label><input id=outcome name=outcome required maxlength=200>"
        "<label for=resolve-note>Note</label>"
        "<textarea id=resolve-note name=note maxlength=2000></textarea>"
    )
    cancel = "<label for=cancel-note>Note</label>"
    cancel += "<textarea id=cancel-note name=note maxlength=2000></textarea>"
    return (
        "<section id=moves><h2>Moves</h2>"
        f"{hold}"
        f"<h3>Return to automation</h3>{_form(f'{at}/return', csrf, note, 'Return to automation', id_='return')}"
        f"<h3>Act by hand</h3><p><a id=act href='{esc(at)}/act'>Choose a capability and fill its "
        "parameters</a></p>"
        f"<h3>Resolve</h3>{_form(f'{at}/resolve', csrf, resolve, 'Resolve', id_='resolve')}"
        f"<h3>Cancel</h3>{_form(f'{at}/cancel', csrf, cancel, 'Cancel the case', id_='cancel')}"
        "</section>"
    )


def _decisions(approval: ApprovalView) -> str:
    items = "".join(
        f"<li>{esc(d.get('approver'))}: {esc(d.get('decision'))} at {esc(d.get('at'))}"
        f" via {esc(d.get('via', 'link'))}"
        + (f" — “{esc(d.get('comment'))}”" if d.get("comment") else "")
        + "</li>"
        for d in approval.decisions
    )
    return f"<ul>{items or '<li class=muted>none yet</li>'}</ul>"


def _approvals(base: str, view: CasePage, who: Operator, csrf: str) -> str:
    if not view.approvals:
        return ""
    blocks = []
    for a in view.approvals:
        form = ""
        if a.status == "PENDING" and can(who, "approver", view.process):
            inner = (
                "<label>Comment <textarea name=comment maxlength=2000></textarea></label>"
                "<select name=decision><option value=approve>approve</option>"
                "<option value=reject>reject</option><option value=changes>request changes"
                "</option></select> "
            )
            form = _form(
                f"{base}/approvals/{quote(a.approval_id)}", csrf, inner, "Decide",
                id_=f"decide-{a.approval_id}",
            )  # fmt: skip
        quorum = f"{a.quorum} of {len(a.approvers)}" if a.quorum else "-"
        rows = [
            ("Action", esc(a.action_id)), ("Rule", esc(a.rule)), ("Quorum", esc(quorum)),
            ("Approvers", esc(", ".join(a.approvers))), ("Level", esc(a.level)),
            ("Decisions", _decisions(a)), ("Decided", esc(a.decided_by or "-")),
            ("Expires", esc(a.expires_at)),
        ]  # fmt: skip
        blocks.append(
            f"<div class=approval><h3>{esc(a.approval_id)}: {esc(a.status)}</h3>"
            f"{_dl(rows)}{form}</div>"
        )
    return f"<section id=approvals><h2>Approvals</h2>{''.join(blocks)}</section>"


def _action_row(action: ActionView) -> str:
    outcome = action.result if action.result is not None else action.error
    attestation = action.attestation or {}
    who = attestation.get("approvers") or attestation.get("operator") or attestation.get("rule")
    return (
        f"<tr id='action-{esc(action.index)}'><td>{esc(action.index)}</td>"
        f"<td><code>{esc(action.capability)}</code><pre>{pretty(action.params)}</pre></td>"
        f"<td>{esc(action.risk)}</td><td>{esc(action.gate)}</td>"
        f"<td class=action-status>{esc(action.status)}</td>"
        f"<td>{esc(attestation.get('type', '-'))} {esc(who or '')}</td>"
        f"<td><pre>{pretty(outcome) if outcome is not None else '-'}</pre></td></tr>"
    )


def _plan(view: CasePage) -> str:
    rows = "".join(_action_row(a) for a in view.actions) or (
        "<tr><td colspan=7 class=muted>no actions</td></tr>"
    )
    plans = "".join(
        f"<li>{esc(p.plan_id)} {esc(p.status)}: {esc(p.summary)}"
        + (
            f" <span class=muted>(asked by {esc(json.dumps(p.revision))})</span>"
            if p.revision
            else ""
        )
        + "</li>"
        for p in view.plans
    )
    return (
        "<section id=plan><h2>Plan and actions</h2>"
        f"<ul>{plans or '<li class=muted>no plan</li>'}</ul>"
        "<table id=actions><tr><th>#</th><th>Capability and params</th><th>Risk</th><th>Gate</th>"
        f"<th>Status</th><th>Attestation</th><th>Result</th></tr>{rows}</table></section>"
    )


def _usage(view: CasePage) -> str:
    return (
        f"<section id=usage><h2>Usage and cost</h2><p>Total <b id=cost>USD {view.cost_usd:.6f}</b>"
        f" over {len(view.usage)} decisions.</p><pre>{pretty(view.usage)}</pre></section>"
    )


def _timeline(view: CasePage) -> str:
    chain = view.chain
    valid = bool(chain.get("valid"))
    verdict = (
        f"<p id=chain class={'ok' if valid else 'bad'}>Audit chain "
        f"{'verified' if valid else 'INVALID'}: {esc(chain.get('length'))} events"
        + (f", {esc(chain.get('problem'))} at #{esc(chain.get('seq'))}" if not valid else "")
        + "</p>"
    )
    rows = "".join(
        f"<tr><td>{esc(e.get('seq'))}</td><td>{esc(e.get('at'))}</td><td>{esc(e.get('type'))}</td>"
        f"<td><code>{esc(json.dumps(e.get('data'), sort_keys=True, default=str)[:600])}</code></td>"
        f"<td><code>{esc(str(e.get('hash'))[:12])}</code></td></tr>"
        for e in view.timeline
    )
    return (
        f"<section id=timeline><h2>Timeline</h2>{verdict}<table><tr><th>#</th><th>At</th>"
        f"<th>Event</th><th>Data</th><th>Hash</th></tr>{rows}</table></section>"
    )


def case_body(base: str, view: CasePage, who: Operator, csrf: str, done: str = "") -> str:
    """The whole case page (see the module docstring)."""
    message = f"<p id=message>Done: {esc(done)}.</p>" if done else ""
    return (
        message
        + _summary(view)
        + _moves(base, view, who, csrf)
        + _approvals(base, view, who, csrf)
        + _plan(view)
        + _usage(view)
        + "<section id=input-section><h2>Input and classification</h2>"
        f"<pre id=input>{pretty(view.input)}</pre><pre id=classification>"
        f"{pretty(view.classification)}</pre></section>" + _timeline(view)
    )


def act_body(
    base: str, case_id: str, forms: Sequence[Mapping[str, Any]], chosen: str, csrf: str
) -> str:
    """Pick an allowed capability, then fill its params in a form made from its schema."""
    at = f"{base}/cases/{quote(case_id)}"
    links = "".join(
        f"<li><a class=capability href='{esc(at)}/act?capability={esc(quote(str(f['capability'])))}'>"
        f"{esc(f['capability'])}</a> ({esc(f['risk'])} risk) {esc(f['description'])}</li>"
        for f in forms
    )
    body = f"<p><a href='{esc(at)}'>Back to the case</a></p><ul id=capabilities>{links}</ul>"
    form = next((f for f in forms if f["capability"] == chosen), None)
    if form is None:
        return body
    inner = (
        hidden("capability", str(form["capability"]))
        + fields(form["params_schema"])
        + "<label for=act-note>Note</label><textarea id=act-note name=note maxlength=2000></textarea>"
    )
    action = f"{at}/act"
    return body + f"<h2>{esc(chosen)}</h2>" + _form(action, csrf, inner, "Act", id_="act-form")


def actions_from_form(
    forms: Mapping[str, Mapping[str, Any]], form: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The posted act-by-hand form as `[{"capability", "params"}]`; InvalidInput naming a field."""
    capability = form.get("capability", "")
    chosen = forms.get(capability)
    if chosen is None:
        raise InvalidInput(
            f"capability: {capability or 'none'} is not allowed here", field="capability"
        )
    return [{"capability": capability, "params": params_from_form(chosen["params_schema"], form)}]
