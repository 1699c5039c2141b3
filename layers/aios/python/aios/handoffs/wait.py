"""The case machine's side of a handoff: wait for a person, remind, resume.

The machine waits in a `lambda:invoke.waitForTaskToken` task (`AwaitOperator`) whose heartbeat
is the process's SLA and whose timeout is its final timeout:

- `await_operator` keeps the task token on the handoff (only while it is WAITING) and, the
  first time, notifies the handlers. If a person moved first (or the wait timed out), it
  answers the task itself: the token is never lost between a move and a wait.
- `remind` runs once the SLA has passed (the heartbeat timed out): the handlers are reminded
  once, and the machine waits again for what is left of the timeout.
- `resume` reads what happened from the ledger, never from the task's answer (anyone holding
  the token could answer anything): the operator's move (`return` and `manual` come with the
  revision Decide plans with), or, after the final timeout, the policy's `on_timeout`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aios.errors import LedgerConflict
from aios.handoffs import notices
from aios.handoffs.records import HandoffRecord, decisions_so_far, load_handoff
from aios.ledger import commit, move_case, now_iso, set_task_token, stage_handoff_change
from aios.settings import Settings
from aios.specs import get_spec
from aios.tasks import succeed_task

Resumption = Literal["return", "manual", "resolve", "cancel", "fail", "wait"]
TIMED_OUT_ERROR = "Aios.HandoffTimedOut"


@dataclass(frozen=True)
class Awaited:
    """What the await step did: who was told now (empty if told before), or that the wait
    was already over and the task was answered at once."""

    record: HandoffRecord
    notified: list[str] = field(default_factory=list)
    answered: bool = False
    first: bool = False
    """This await sent the handoff's first notice."""


def _answer(token: str, record: HandoffRecord) -> None:
    succeed_task(token, {"case_id": record.case_id, "handoff_id": record.handoff_id})


def await_operator(case_id: str, handoff_id: str, token: str, settings: Settings) -> Awaited:
    """Keep the task token, and notify the handlers once per handoff.

    When the handoff is no longer WAITING (a person moved, or it timed out) the task is
    answered here and now, so the machine resumes at once.
    """
    record, _ = load_handoff(case_id, handoff_id)
    if record.status != "WAITING" or not set_task_token(case_id, handoff_id, token):
        record, _ = load_handoff(case_id, handoff_id)
        _answer(token, record)
        return Awaited(record, answered=True)
    if record.notified_at:
        return Awaited(record)
    sent = notices.send(record, settings)
    _remember(case_id, handoff_id, "handoff.notified", "notified", sent)
    return Awaited(load_handoff(case_id, handoff_id)[0], notified=sent, first=True)


def _remember(case_id: str, handoff_id: str, event: str, who: str, sent: list[str]) -> None:
    """Record on the handoff and the audit chain who was told (`notified`) or reminded; a
    move that landed meanwhile wins (the notice went out anyway)."""
    _, item = load_handoff(case_id, handoff_id)
    at = now_iso()
    data = {**(item.data or {}), who: sent, f"{who}_at": at}
    try:
        commit(
            case_id,
            [(event, {"handoff_id": handoff_id, who: sent})],
            ops=(stage_handoff_change(item, data=data),),
        )
    except LedgerConflict:
        return


def remind(case_id: str, handoff_id: str, settings: Settings, now: float | None = None) -> int:
    """The SLA passed with nobody moving: remind the handlers (once) and return the seconds
    left until the final timeout (at least 1)."""
    record, _ = load_handoff(case_id, handoff_id)
    if record.status == "WAITING" and not record.reminded_at:
        sent = notices.send(record, settings, reminder=True)
        _remember(case_id, handoff_id, "handoff.sla_missed", "reminded", sent)
    at = time.time() if now is None else now
    return max(1, int(record.expires_at - at))


@dataclass(frozen=True)
class Resumed:
    """What the machine does next, from the ledger."""

    move: Resumption
    process: str
    revision: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    remaining_seconds: int = 1
    operator: str | None = None
    """Who moved, when a person did."""
    timed_out: bool = False
    """The outcome is the policy's `on_timeout`."""

    def to_state(self) -> dict[str, Any]:
        return {
            "move": self.move,
            "revision": self.revision,
            "error": self.error,
            "remaining_seconds": self.remaining_seconds,
        }


def resume(case_id: str, handoff_id: str, *, timed_out: bool, now: float | None = None) -> Resumed:
    """The move recorded on the handoff, or the final timeout's outcome (recorded once)."""
    record, _ = load_handoff(case_id, handoff_id)
    process = record.process
    if record.status == "WAITING" and timed_out:
        record = _time_out(record, process)
    if record.status == "WAITING":
        # Answered without a move (a stale or forged answer): wait again for what is left.
        at = time.time() if now is None else now
        return Resumed("wait", process, remaining_seconds=max(1, int(record.expires_at - at)))
    move = dict(record.move or {})
    if record.status == "TIMED_OUT":
        if move.get("outcome") == "resolve":
            return Resumed("resolve", process, timed_out=True)
        return Resumed(
            "fail",
            process,
            timed_out=True,
            error={
                "Error": TIMED_OUT_ERROR,
                "Cause": f"nobody took the handed-off case within {record.timeout_seconds}s",
            },
        )
    name: Resumption = move["move"]
    revision = None
    if name in ("return", "manual"):
        revision = {
            "round": max(1, decisions_so_far(case_id)),
            "comment": str(move.get("note") or ""),
            "handoff_id": handoff_id,
            "operator": str(move["operator"]),
            "manual": name == "manual",
        }
    return Resumed(name, process, revision=revision, operator=str(move.get("operator")))


def _time_out(record: HandoffRecord, process: str) -> HandoffRecord:
    """Close the wait as the policy's `on_timeout` says, once: `resolve` ends the case
    RESOLVED; `fail` leaves it to the machine's compensation path."""
    outcome = get_spec(process).policy.handoff.on_timeout
    at = now_iso()
    _, item = load_handoff(record.case_id, record.handoff_id)
    move = {"move": "timeout", "outcome": outcome, "at": at}
    data = {**(item.data or {}), "move": move}
    event = ("handoff.timed_out", {"handoff_id": record.handoff_id, "outcome": outcome})
    op = stage_handoff_change(item, data=data, status="TIMED_OUT")
    try:
        if outcome == "resolve":
            resolution = {
                "outcome": "timed out",
                "note": "nobody took the case in time",
                "by": None,
            }
            move_case(
                record.case_id,
                [event, ("case.resolved", resolution)],
                to_status="RESOLVED",
                from_statuses=("HANDED_OFF",),
                holder=None,
                check_holder=False,
                ops=(op,),
                data=lambda case: {**case.data, "resolution": {**resolution, "at": at}},
            )
        else:
            commit(record.case_id, [event], ops=(op,))
    except LedgerConflict:
        pass  # a person moved first: their move stands
    return load_handoff(record.case_id, record.handoff_id)[0]
