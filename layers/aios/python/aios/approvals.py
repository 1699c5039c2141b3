"""Human approvals: records bound to an action's digest, signed single-use links, decisions.

An approval lives in its case's partition (`APPROVAL#<action id>`); its id is the action id.
The task token the state machine waits on is stored in the record, never in a link. A link
carries `<approver>.<expires>.<mac>`: an HMAC-SHA256 over (approval id, approver, expiry), so a
token works only for its approval, its approver and until the level's deadline. Deciding is a
compare-and-set on the record's version: each approver decides once, and the decision that
reaches the quorum moves the action PROPOSED -> APPROVED with a human attestation bound to the
action digest (or SKIPPED on rejection) in the same ledger transaction as its audit events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pynamodb.expressions.update import Action

from aios.capabilities import get_capability
from aios.errors import AiosError, LedgerConflict
from aios.ledger import (
    LedgerItem,
    Put,
    Update,
    action_sk,
    case_pk,
    commit,
    get_case,
    load_case_items,
)
from aios.ledger.repository import now_iso
from aios.policy import approval_rule
from aios.specs import ApprovalRule, ProcessSpec, get_spec

Decision = Literal["approve", "reject", "changes"]
# "changes": the case goes back to Decide with the comment, at most `max_change_rounds` times.
DECISIONS: tuple[str, ...] = ("approve", "reject", "changes")
FINAL = {"approve": "APPROVED", "reject": "REJECTED", "changes": "CHANGES_REQUESTED"}


class ApprovalNotFound(AiosError):
    code = "APPROVAL_NOT_FOUND"


class LinkForbidden(AiosError):
    """A forged token, another approval's token, or a person who is not an approver."""

    code = "APPROVAL_FORBIDDEN"


class LinkExpired(AiosError):
    code = "APPROVAL_EXPIRED"


class AlreadyDecided(AiosError):
    code = "APPROVAL_ALREADY_DECIDED"


class ChangesNotAllowed(AiosError):
    code = "APPROVAL_NO_MORE_CHANGES"


# -- links


def _mac(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    message = f"aios-approval-v1\n{approval_id}\n{approver}\n{expires}".encode()
    return (
        base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest())
        .decode()
        .rstrip("=")
    )


def link_token(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """The token of one approver's link: valid for this approval only, until `expires`."""
    return f"{approver}.{expires}.{_mac(key, approval_id, approver, expires)}"


def verify_link_token(key: bytes, approval_id: str, token: str, now: float | None = None) -> str:
    """The approver the token names; LinkForbidden if forged or not for this approval,
    LinkExpired once its expiry has passed (checked after the MAC, so expiry is authentic)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise LinkForbidden("the link is not valid")
    approver, expires_text, mac = parts
    expected = _mac(key, approval_id, approver, int(expires_text))
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise LinkForbidden("the link is not valid for this approval")
    if (time.time() if now is None else now) >= int(expires_text):
        raise LinkExpired("the link has expired")
    return approver


# -- records


def approval_id_for(action_id: str) -> str:
    return action_id


def case_id_of(approval_id: str) -> str:
    """`<case>.p<n>.a<i>` -> `<case>`; ApprovalNotFound for anything else."""
    parts = approval_id.split(".")
    if len(parts) != 3 or not parts[1][1:].isdigit() or not parts[2][1:].isdigit():
        raise ApprovalNotFound(f"no approval {approval_id!r}")
    return parts[0]


def _approval_sk(approval_id: str) -> str:
    return f"APPROVAL#{approval_id}"


def load_approval(approval_id: str) -> LedgerItem:
    try:
        return LedgerItem.get(
            case_pk(case_id_of(approval_id)), _approval_sk(approval_id), consistent_read=True
        )
    except LedgerItem.DoesNotExist:
        raise ApprovalNotFound(f"no approval {approval_id!r}") from None


def _action_item(case_id: str, index: int) -> LedgerItem:
    return LedgerItem.get(case_pk(case_id), action_sk(index), consistent_read=True)


def rule_for(
    spec: ProcessSpec, capability: str, params: dict[str, Any], confidence: float | None
) -> ApprovalRule:
    rule = approval_rule(get_capability(capability), spec.policy, params, confidence)
    if rule is None:
        raise AiosError(f"no approval rule of {spec.name} applies to {capability}")
    return rule


def _confidence(items: list[LedgerItem], plan_id: str) -> float | None:
    for item in items:
        if item.kind == "plan" and (item.data or {}).get("plan_id") == plan_id:
            value = ((item.data or {}).get("classification") or {}).get("confidence")
            return float(value) if value is not None else None
    return None


def _level(rule: ApprovalRule, level: int) -> tuple[list[str], int, int]:
    """(approvers, quorum, timeout) of escalation level `level` (0 = the rule's own)."""
    if level == 0:
        return list(rule.approvers), rule.quorum, rule.timeout_seconds
    step = rule.escalation[level - 1]
    return list(step.approvers), min(rule.quorum, len(step.approvers)), step.timeout_seconds


def _waiting(case: Any) -> list[Any]:
    return [LedgerItem.status.set("WAITING_APPROVAL")] if case.status == "RUNNING" else []


def _running(case: Any) -> list[Any]:
    return [LedgerItem.status.set("RUNNING")] if case.status == "WAITING_APPROVAL" else []


def step_result(data: dict[str, Any], outcome: str) -> dict[str, Any]:
    """What the state machine gets: the outcome and, while waiting, the level and its timeout."""
    return {
        "approval_id": data["approval_id"],
        "outcome": outcome,
        "level": int(data.get("level", 0)),
        "timeout_seconds": int(data.get("timeout_seconds", 1)),
        "process": data.get("process", ""),
    }


def open_approval(case_id: str, action: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Create the approval of a PROPOSED action, bound to the ledger's digest of it; once.

    A retry finds the record it made and answers the same. The case is WAITING_APPROVAL.
    """
    index, action_id = int(action["index"]), str(action["action_id"])
    approval_id = approval_id_for(action_id)
    try:
        existing = load_approval(approval_id)
        return step_result(
            dict(existing.data or {}),
            "wait" if existing.status == "PENDING" else _outcome_of(existing),
        )
    except ApprovalNotFound:
        pass
    items = load_case_items(case_id)
    stored = _action_item(case_id, index)
    data = dict(stored.data or {})
    if data.get("action_id") != action_id or stored.status != "PROPOSED":
        raise AiosError(f"action {action_id} is not a proposed action of case {case_id}")
    case = get_case(case_id)
    spec = get_spec(str(case.data["process"]))
    rule = rule_for(spec, data["capability"], data["params"], _confidence(items, data["plan_id"]))
    approvers, quorum, timeout = _level(rule, 0)
    at = time.time() if now is None else now
    record = {
        "approval_id": approval_id,
        "case_id": case_id,
        "action_id": action_id,
        "index": index,
        "digest": data["digest"],
        "process": spec.name,
        "rule": rule.name,
        "level": 0,
        "approvers": approvers,
        "quorum": quorum,
        "timeout_seconds": timeout,
        "requested_at": at,
        "expires_at": int(at + timeout),
        "decisions": [],
        "notified": [],
        "reminded_level": -1,
        "round": _round(items),
    }
    iso = now_iso()
    item = LedgerItem(
        case_pk(case_id),
        _approval_sk(approval_id),
        kind="approval",
        status="PENDING",
        data=record,
        seq=0,
        created_at=iso,
        updated_at=iso,
    )
    try:
        commit(
            case_id,
            [
                (
                    "approval.requested",
                    {
                        k: record[k]
                        for k in (
                            "approval_id",
                            "action_id",
                            "digest",
                            "rule",
                            "approvers",
                            "quorum",
                            "timeout_seconds",
                        )
                    },
                )
            ],
            ops=(Put(item),),
            case_actions=_waiting,
        )
    except LedgerConflict:
        existing = load_approval(approval_id)
        return step_result(
            dict(existing.data or {}),
            "wait" if existing.status == "PENDING" else _outcome_of(existing),
        )
    return step_result(record, "wait")


def _round(items: list[LedgerItem]) -> int:
    return sum(1 for i in items if i.kind == "approval" and i.status == "CHANGES_REQUESTED")


def revision(case_id: str) -> dict[str, Any]:
    """The latest request for changes of a case, from the ledger: the round (how many so far),
    the reviewer's comment, and the limits of the rule (`max_rounds`, `on_exhausted`)."""
    changed = [
        dict(i.data or {})
        for i in load_case_items(case_id)
        if i.kind == "approval" and i.status == "CHANGES_REQUESTED"
    ]
    if not changed:
        raise AiosError(f"case {case_id} has no request for changes")
    latest = max(changed, key=lambda d: int(d.get("round", 0)))
    rule = next(
        r
        for r in get_spec(str(latest["process"])).policy.approval.rules
        if r.name == latest["rule"]
    )
    return {
        "approval_id": latest["approval_id"],
        "round": len(changed),
        "max_rounds": rule.max_change_rounds,
        "on_exhausted": rule.on_reject,
        "comment": str(latest.get("comment") or ""),
    }


def _outcome_of(item: LedgerItem) -> str:
    data = dict(item.data or {})
    return {
        "APPROVED": "approved",
        "CHANGES_REQUESTED": "changes",
    }.get(item.status or "", str(data.get("outcome", "reject")))


def store_task_token(approval_id: str, level: int, task_token: str) -> dict[str, Any]:
    """Keep the state machine's task token server-side; returns the record's data."""
    item = load_approval(approval_id)
    data = dict(item.data or {})
    if item.status != "PENDING" or int(data.get("level", 0)) != level:
        return data
    data["task_token"] = task_token
    _save(item, data, item.status or "PENDING")
    return data


def _save(item: LedgerItem, data: dict[str, Any], status: str) -> None:
    version = int(item.seq or 0)
    item.update(
        actions=[
            LedgerItem.data.set(data),
            LedgerItem.status.set(status),
            LedgerItem.seq.set(version + 1),
            LedgerItem.updated_at.set(now_iso()),
        ],
        condition=LedgerItem.seq == version,
    )


def mark_notified(
    approval_id: str, approvers: list[str], reminded_level: int | None = None
) -> None:
    """Remember who was notified (and reminded at which level); a lost race is harmless."""
    item = load_approval(approval_id)
    data = dict(item.data or {})
    data["notified"] = sorted({*data.get("notified", []), *approvers})
    if reminded_level is not None:
        data["reminded_level"] = reminded_level
    try:
        _save(item, data, item.status or "PENDING")
    except Exception:
        return


def escalate(approval_id: str, level: int, now: float | None = None) -> dict[str, Any]:
    """After level `level` timed out: the next escalation level, or the final-timeout outcome.

    On the final timeout the action is SKIPPED with reason APPROVAL_TIMED_OUT and the outcome
    is the rule's `on_final_timeout` ("reject" continues the case, "fail" fails it).
    """
    item = load_approval(approval_id)
    data = dict(item.data or {})
    if item.status != "PENDING":
        return step_result(data, _outcome_of(item))
    if int(data["level"]) != level:
        return step_result(data, "wait")  # a retry of an escalation already done
    case = get_case(data["case_id"])
    spec = get_spec(str(case.data["process"]))
    rule = next(r for r in spec.policy.approval.rules if r.name == data["rule"])
    at = time.time() if now is None else now
    version = int(item.seq or 0)
    if level < len(rule.escalation):
        approvers, quorum, timeout = _level(rule, level + 1)
        data.update(
            level=level + 1,
            approvers=approvers,
            quorum=quorum,
            timeout_seconds=timeout,
            expires_at=int(at + timeout),
            decisions=[],
            task_token=None,
            reminded_level=-1,
        )
        events = [
            (
                "approval.escalated",
                {"approval_id": approval_id, "level": level + 1, "approvers": approvers},
            )
        ]
        _commit_record(item, data, "PENDING", version, events)
        return step_result(data, "wait")
    outcome = "fail" if rule.on_final_timeout == "fail" else "reject"
    data.update(outcome=outcome, decided_at=now_iso(), task_token=None)
    reason = {
        "code": "APPROVAL_TIMED_OUT",
        "message": f"nobody decided within the policy's timeouts ({rule.name})",
    }
    events = [
        ("approval.timed_out", {"approval_id": approval_id, "level": level, "outcome": outcome}),
        (
            "action.skipped",
            {"action_id": data["action_id"], "reason": reason["message"], "code": reason["code"]},
        ),
    ]
    _commit_record(item, data, "TIMED_OUT", version, events, action=("SKIPPED", None, reason))
    return step_result(data, outcome)


def _commit_record(
    item: LedgerItem,
    data: dict[str, Any],
    status: str,
    version: int,
    events: list[tuple[str, dict[str, Any]]],
    action: tuple[str, dict[str, Any] | None, dict[str, Any] | None] | None = None,
) -> None:
    """One transaction: the record (compare-and-set on its version), the action, the events."""
    case_id = data["case_id"]
    ops: list[Put | Update] = [
        Update(
            LedgerItem(item.pk, item.sk),
            actions=[
                LedgerItem.data.set(data),
                LedgerItem.status.set(status),
                LedgerItem.seq.set(version + 1),
                LedgerItem.updated_at.set(now_iso()),
            ],
            condition=(LedgerItem.seq == version) & (LedgerItem.status == "PENDING"),
        )
    ]
    if action is not None:
        new_status, attestation, error = action
        stored = _action_item(case_id, int(data["index"]))
        action_data = dict(stored.data or {})
        if action_data.get("digest") != data["digest"]:
            raise AiosError(f"action {data['action_id']} changed since its approval was requested")
        updates: list[Action] = [
            LedgerItem.status.set(new_status),
            LedgerItem.updated_at.set(now_iso()),
        ]
        if attestation is not None:
            action_data["attestation"] = attestation
            updates.append(LedgerItem.data.set(action_data))
        if error is not None:
            updates.append(LedgerItem.error.set(error))
        ops.append(
            Update(
                LedgerItem(case_pk(case_id), action_sk(int(data["index"]))),
                actions=updates,
                condition=LedgerItem.status == "PROPOSED",
            )
        )
    final = status != "PENDING"
    commit(case_id, events, ops=tuple(ops), case_actions=_running if final else ())


@dataclass(frozen=True)
class Decided:
    """The result of one person's decision; `task_token` set when it settled the approval."""

    approval_id: str
    status: str
    outcome: str
    task_token: str | None
    latency_seconds: float | None
    process: str
    revision: dict[str, Any] | None = None
    """On "request changes": what the state machine re-plans with (round, comment, limits)."""


def decide(
    approval_id: str,
    approver: str,
    decision: str,
    comment: str = "",
    via: str = "link",
    now: float | None = None,
) -> Decided:
    """Apply one approver's decision at most once.

    Raises AlreadyDecided (this approver, or the approval, decided already), LinkExpired,
    LinkForbidden (not an approver of the current level) or ChangesNotAllowed.
    """
    if decision not in DECISIONS:
        raise AiosError(f"decision must be one of {', '.join(DECISIONS)}")
    for _ in range(3):
        item = load_approval(approval_id)
        data = dict(item.data or {})
        if item.status != "PENDING":
            raise AlreadyDecided(_decided_text(data, item.status or ""), **_last(data))
        if approver not in data["approvers"]:
            raise LinkForbidden(f"{approver} is not an approver of this approval")
        mine = [d for d in data["decisions"] if d["approver"] == approver]
        if mine:
            raise AlreadyDecided(
                f"already decided by {approver} at {mine[0]['at']}", by=approver, at=mine[0]["at"]
            )
        at = time.time() if now is None else now
        if at >= int(data["expires_at"]):
            raise LinkExpired("the approval has expired")
        case = get_case(data["case_id"])
        spec = get_spec(str(case.data["process"]))
        rule = next(r for r in spec.policy.approval.rules if r.name == data["rule"])
        if decision == "changes" and int(data.get("round", 0)) >= rule.max_change_rounds:
            raise ChangesNotAllowed(
                f"no more change rounds: the policy allows {rule.max_change_rounds}"
            )
        if decision == "changes" and not comment.strip():
            raise AiosError("say in the comment what should change")
        entry = {
            "approver": approver,
            "decision": decision,
            "comment": comment[:2000],
            "at": now_iso(),
            "via": via,
        }
        data["decisions"] = [*data["decisions"], entry]
        status, outcome = _tally(data, decision, rule)
        events: list[tuple[str, dict[str, Any]]] = [
            ("approval.decided", {"approval_id": approval_id, **entry})
        ]
        action: tuple[str, dict[str, Any] | None, dict[str, Any] | None] | None = None
        if status == "APPROVED":
            approvers = [d["approver"] for d in data["decisions"] if d["decision"] == "approve"]
            attestation = {
                "type": "human",
                "digest": data["digest"],
                "approval_id": approval_id,
                "rule": rule.name,
                "approvers": approvers,
                "quorum": data["quorum"],
                "at": entry["at"],
            }
            action = ("APPROVED", attestation, None)
            events.append(("action.attested", {"action_id": data["action_id"], **attestation}))
        elif status in ("REJECTED", "CHANGES_REQUESTED"):
            code = "APPROVAL_REJECTED" if status == "REJECTED" else "CHANGES_REQUESTED"
            reason = {
                "code": code,
                "message": f"{FINAL[decision].lower().replace('_', ' ')} by {approver}: {comment[:500]}".rstrip(
                    ": "
                ),
            }
            action = ("SKIPPED", None, reason)
            events.append(
                (
                    "action.skipped",
                    {"action_id": data["action_id"], "reason": reason["message"], "code": code},
                )
            )
        if status != "PENDING":
            data.update(outcome=outcome, decided_by=approver, decided_at=entry["at"])
            if decision == "changes":
                data["comment"] = comment[:2000]
        token = data.get("task_token") if status != "PENDING" else None
        if status != "PENDING":
            data["task_token"] = None
        try:
            _commit_record(item, data, status, int(item.seq or 0), events, action)
        except LedgerConflict:
            continue  # another decision landed first: re-read and judge again
        latency = at - float(data["requested_at"]) if status != "PENDING" else None
        revision = (
            {
                "approval_id": approval_id,
                "round": int(data.get("round", 0)) + 1,
                "max_rounds": rule.max_change_rounds,
                "on_exhausted": rule.on_reject,
                "comment": comment[:2000],
            }
            if status == "CHANGES_REQUESTED"
            else None
        )
        return Decided(approval_id, status, outcome, token, latency, str(data["process"]), revision)
    raise AlreadyDecided("the approval changed while deciding; reload the page")


def changes_allowed(data: dict[str, Any]) -> bool:
    """Whether a reviewer of this approval may still request changes (the policy's rounds)."""
    spec = get_spec(str(data["process"]))
    rule = next(r for r in spec.policy.approval.rules if r.name == data["rule"])
    return int(data.get("round", 0)) < rule.max_change_rounds


def _tally(data: dict[str, Any], decision: str, rule: ApprovalRule) -> tuple[str, str]:
    if decision == "changes":
        return "CHANGES_REQUESTED", "changes"
    approvals = sum(1 for d in data["decisions"] if d["decision"] == "approve")
    rejections = sum(1 for d in data["decisions"] if d["decision"] == "reject")
    if approvals >= int(data["quorum"]):
        return "APPROVED", "approved"
    if len(data["approvers"]) - rejections < int(data["quorum"]):
        return "REJECTED", "fail" if rule.on_reject == "fail" else "reject"
    return "PENDING", "wait"


def _last(data: dict[str, Any]) -> dict[str, Any]:
    return {"by": data.get("decided_by"), "at": data.get("decided_at")}


def _decided_text(data: dict[str, Any], status: str) -> str:
    if status == "TIMED_OUT":
        return f"expired: nobody decided in time (closed at {data.get('decided_at')})"
    outcome = status.lower().replace("_", " ")
    return f"already decided by {data.get('decided_by')} at {data.get('decided_at')} ({outcome})"


def pending_approvals() -> list[LedgerItem]:
    """Every approval still waiting (a filtered scan: approvals are few and short-lived)."""
    return list(LedgerItem.scan((LedgerItem.kind == "approval") & (LedgerItem.status == "PENDING")))


def due_for_reminder(item: LedgerItem, share: float, now: float | None = None) -> bool:
    """True once `share` of the current level's timeout has passed and nobody was reminded."""
    data = dict(item.data or {})
    at = time.time() if now is None else now
    level = int(data.get("level", 0))
    if int(data.get("reminded_level", -1)) >= level or at >= int(data["expires_at"]):
        return False
    started = int(data["expires_at"]) - int(data["timeout_seconds"])
    return at >= started + share * int(data["timeout_seconds"])


def due_reminders(now: float | None = None) -> list[LedgerItem]:
    """Pending approvals past their process's `remind_after` share of the level's timeout,
    whose approvers were not yet reminded at this level."""
    return [
        item
        for item in pending_approvals()
        if due_for_reminder(
            item, get_spec(str((item.data or {})["process"])).policy.approval.remind_after, now
        )
    ]


def claim_reminder(item: LedgerItem) -> bool:
    """Record that the approvers of the approval's current level are being reminded; once.

    A compare-and-set on the record (with an `approval.reminded` audit event): of two
    concurrent runs, or a run racing a decision or an escalation, at most one wins. The
    winner sends; a send that fails after the claim is not retried (never twice).
    """
    data = dict(item.data or {})
    level = int(data.get("level", 0))
    if int(data.get("reminded_level", -1)) >= level:
        return False
    data.update(reminded_level=level, reminded_at=now_iso())
    event = {"approval_id": data["approval_id"], "level": level, "approvers": data["approvers"]}
    try:
        _commit_record(item, data, "PENDING", int(item.seq or 0), [("approval.reminded", event)])
    except LedgerConflict:
        return False
    return True


def page_context(approval_id: str) -> dict[str, Any]:
    """What a reviewer needs to decide: input, plan reasons, the exact action, risk, state."""
    item = load_approval(approval_id)
    data = dict(item.data or {})
    case = get_case(data["case_id"])
    items = load_case_items(data["case_id"])
    action = _action_item(data["case_id"], int(data["index"]))
    plan = next(
        (
            dict(i.data or {})
            for i in items
            if i.kind == "plan"
            and (i.data or {}).get("plan_id") == (action.data or {}).get("plan_id")
        ),
        {},
    )
    return {
        "approval": data,
        "status": item.status,
        "case": {
            "case_id": case.case_id,
            "process": case.data.get("process"),
            "input": case.data.get("input"),
            "status": case.status,
        },
        "plan": {"summary": plan.get("summary"), "classification": plan.get("classification")},
        "action": dict(action.data or {}),
    }


def expires_iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Notice:
    """One message to one approver: email and/or Slack, with that approver's own link."""

    approver: str
    email: str | None
    slack_user: str | None
    link: str
    subject: str
    text: str
    html: str


def link_for(base_url: str, key: bytes, approval_id: str, approver: str, expires: int) -> str:
    return f"{base_url.rstrip('/')}/approvals/{approval_id}?t={link_token(key, approval_id, approver, expires)}"


def notices(
    approval_id: str, base_url: str, key: bytes, approvers: list[str], reminder: bool = False
) -> list[Notice]:
    """The messages for `approvers` of an approval (HTML and text, each with its link)."""
    import html as html_lib

    ctx = page_context(approval_id)
    data, action = ctx["approval"], ctx["action"]
    spec = get_spec(str(ctx["case"]["process"]))
    people = spec.policy.approval.approvers
    summary = str(ctx["plan"].get("summary") or "")
    params = json_dump(action.get("params"))
    deadline = expires_iso(int(data["expires_at"]))
    prefix = "Reminder: " if reminder else ""
    out: list[Notice] = []
    for approver in approvers:
        person = people.get(approver)
        if person is None:
            continue
        link = link_for(base_url, key, approval_id, approver, int(data["expires_at"]))
        subject = f"{prefix}Approval needed: {action.get('capability')} for {spec.name} ({action.get('risk')} risk)"
        text = (
            f"{summary}\n\nAction: {action.get('capability')}\nRisk: {action.get('risk')}\n"
            f"Reason: {action.get('reason')}\nParams:\n{params}\n\n"
            f"Decide before {deadline}: {link}\n"
        )
        esc = html_lib.escape
        html = (
            f"<p>{esc(summary)}</p><p><b>Action</b>: <code>{esc(str(action.get('capability')))}</code>"
            f" &middot; <b>Risk</b>: {esc(str(action.get('risk')))}</p>"
            f"<p><b>Reason</b>: {esc(str(action.get('reason')))}</p><pre>{esc(params)}</pre>"
            f'<p><a href="{esc(link)}">Review and decide</a> before {esc(deadline)}.</p>'
        )
        out.append(Notice(approver, person.email, person.slack_user, link, subject, text, html))
    return out


def json_dump(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
