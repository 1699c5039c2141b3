"""An operator's moves on a handed-off case, each one ledger transaction with an audit event
that names the person.

- `take` / `release`: hold the case (others see who holds it) or let it go. Taking is a
  compare-and-set: of two people taking the same case one wins, the other is told who holds it.
- `return_to_automation`: Decide plans again with the operator's note as context; the new
  plan goes through the same gates.
- `act_by_hand`: actions of the process's allowed capabilities with their params, checked now
  and again when Decide signs them with a human attestation naming the operator; the execution
  plane applies them like any other action.
- `resolve` (an outcome and a note, no action) and `cancel` close the case.

A move needs the `operator` role for the case's process; only the holder (or an admin) may
move a taken case, and an untaken case is taken by whoever moves it. After the transaction,
the waiting case machine is woken (`aios.tasks`); it reads the move from the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aios.attestations import (
    AttestationClaim,
    content_digest,
    human_key_id,
    issued_now,
    sign_human,
)
from aios.cases import HANDED_OFF
from aios.errors import CaseNotWaiting, HeldByOther, InvalidInput, LedgerConflict
from aios.handoffs.manual import as_dicts, check_manual_actions
from aios.handoffs.manual import capability_forms as _forms
from aios.handoffs.records import STATUS_OF_MOVE, Move, current_handoff_id, load_handoff
from aios.ledger import (
    CaseRecord,
    get_case,
    get_handoff,
    hold_case,
    move_case,
    now_iso,
    release_case,
    stage_handoff_change,
)
from aios.operator.page import CasePage, case_page
from aios.operator.roles import Operator, can, is_admin, require
from aios.signing import SpecRef
from aios.specs import get_spec
from aios.tasks import succeed_task

MAX_ATTEMPTS = 3
NOTE_MAX = 2000
EVENT_OF_MOVE: dict[Move, str] = {
    "return": "operator.returned",
    "manual": "operator.acted",
    "resolve": "operator.resolved",
    "cancel": "operator.cancelled",
}
STATUS_AFTER: dict[Move, str] = {
    "return": "RUNNING",
    "manual": "RUNNING",
    "resolve": "RESOLVED",
    "cancel": "CANCELLED",
}


def _waiting_case(case_id: str, operator: Operator) -> CaseRecord:
    """The case, if the person is an operator of its process and it waits for a person."""
    case = get_case(case_id)
    require(operator, "operator", str(case.data.get("process")))
    if case.status != HANDED_OFF:
        raise CaseNotWaiting(
            f"case {case_id} is {case.status}, not waiting for a person", status=case.status
        )
    return case


def _refuse_if_held(case: CaseRecord, operator: Operator) -> None:
    if case.holder and case.holder != operator.username and not is_admin(operator):
        raise HeldByOther(f"case {case.case_id} is held by {case.holder}", holder=case.holder)


def take(case_id: str, operator: Operator) -> CasePage:
    """Hold the case: others see who holds it, and only the holder (or an admin) moves it.

    A compare-and-set: HeldByOther (naming the holder) if someone else took it first; taking
    a case one already holds changes nothing. An admin may take a case over from its holder.
    """
    for _ in range(MAX_ATTEMPTS):
        case = _waiting_case(case_id, operator)
        if case.holder == operator.username:
            return case_page(case_id)
        _refuse_if_held(case, operator)
        event = {"operator": operator.username, "handoff_id": current_handoff_id(case)}
        if case.holder:
            event["took_over_from"] = case.holder
        try:
            hold_case(
                case_id,
                operator.username,
                [("operator.took", event)],
                take_over=bool(case.holder),
            )
        except LedgerConflict:
            continue  # someone took it, or it moved on: judge again from what is there now
        return case_page(case_id)
    _refuse_if_held(get_case(case_id), operator)
    raise LedgerConflict(f"case {case_id} kept changing while taking it")


def release(case_id: str, operator: Operator) -> CasePage:
    """Let the case go (the holder, or an admin): it waits untaken again."""
    case = _waiting_case(case_id, operator)
    if case.holder is None:
        return case_page(case_id)
    _refuse_if_held(case, operator)
    event = {"operator": operator.username, "handoff_id": current_handoff_id(case)}
    if case.holder != operator.username:
        event["released_for"] = case.holder
    try:
        release_case(case_id, case.holder, [("operator.released", event)])
    except LedgerConflict:
        _refuse_if_held(get_case(case_id), operator)
        raise
    return case_page(case_id)


def _note(note: str, *, field: str = "note", required: bool = False) -> str:
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput(f"{field}: say what the next step should take into account", field=field)
    if len(text) > NOTE_MAX:
        raise InvalidInput(f"{field}: at most {NOTE_MAX} characters", field=field)
    return text


def _move(
    case_id: str, operator: Operator, move: Move, note: str, extra: dict[str, Any] | None = None
) -> CasePage:
    """Record the move (one transaction: case, handoff, events), then wake the machine."""
    closing = move in ("resolve", "cancel")
    for _ in range(MAX_ATTEMPTS):
        case = _waiting_case(case_id, operator)
        _refuse_if_held(case, operator)
        handoff_id = current_handoff_id(case)
        record, item = load_handoff(case_id, handoff_id)
        if record.status != "WAITING":
            raise CaseNotWaiting(f"handoff {handoff_id} is {record.status}", status=record.status)
        recorded = {"move": move, "operator": operator.username, "note": note, "at": now_iso()}
        recorded.update(extra or {})
        events: list[tuple[str, dict[str, Any]]] = []
        if case.holder is None:
            took = {"operator": operator.username, "handoff_id": handoff_id}
            events.append(("operator.took", took))
        events.append((EVENT_OF_MOVE[move], {"handoff_id": handoff_id, **recorded}))
        if closing:
            events.append((f"case.{STATUS_AFTER[move].lower()}", {"by": operator.username}))
        change = stage_handoff_change(
            item, data={**(item.data or {}), "move": recorded}, status=STATUS_OF_MOVE[move]
        )
        try:
            move_case(
                case_id,
                events,
                to_status=STATUS_AFTER[move],
                from_statuses=(HANDED_OFF,),
                holder=operator.username,
                check_holder=not is_admin(operator),
                ops=(change,),
                data=_resolution(recorded) if closing else None,
            )
        except LedgerConflict:
            continue  # taken by someone else, moved, or timed out meanwhile: judge again
        _wake(case_id, handoff_id)
        return case_page(case_id)
    raise LedgerConflict(f"case {case_id} kept changing while moving it")


def _resolution(recorded: dict[str, Any]) -> Callable[[CaseRecord], dict[str, Any]]:
    """A closed case keeps how it was closed (who, outcome, note, when) as its resolution."""
    return lambda case: {**case.data, "resolution": recorded}


def _wake(case_id: str, handoff_id: str) -> None:
    """Answer the waiting task; it reads the move from the ledger. A token kept after the move
    was refused and its keeper answers instead (see `aios.handoffs.wait`)."""
    item = get_handoff(case_id, handoff_id)
    token = item.task_token if item is not None else None
    if token:
        succeed_task(token, {"case_id": case_id, "handoff_id": handoff_id})


def return_to_automation(case_id: str, operator: Operator, note: str) -> CasePage:
    """Decide plans the case again with the operator's note as context; the new plan goes
    through the same gates."""
    return _move(case_id, operator, "return", _note(note, required=True))


def act_by_hand(
    case_id: str, operator: Operator, actions: list[dict[str, Any]], note: str = ""
) -> CasePage:
    """Act with the process's allowed capabilities, each `{"capability", "params"}`.

    Refused before anything is recorded, naming the field, when an action names a capability
    the process does not allow (or its policy denies) or params outside the capability's
    model: CapabilityNotAllowed, InvalidParams, InvalidInput. Decide signs the actions as a
    plan whose actions carry a human attestation naming the operator; the execution plane
    applies them like any other action.
    """
    case = _waiting_case(case_id, operator)
    spec = get_spec(str(case.data.get("process")))
    checked = as_dicts(check_manual_actions(spec, actions))
    attestation = _attest_by_hand(case_id, operator, spec.ref, checked)
    return _move(
        case_id, operator, "manual", _note(note), {"actions": checked, "attestation": attestation}
    )


def _attest_by_hand(
    case_id: str, operator: Operator, spec: SpecRef, actions: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The operator's human attestation over the content of the actions they checked (one KMS
    Sign with the human key); None without a human key (the execution plane then refuses)."""
    claim = AttestationClaim(
        type="human",
        case_id=case_id,
        binds="content",
        action_digests=tuple(content_digest(a["capability"], a["params"]) for a in actions),
        spec=spec,
        rule="act by hand",
        operator=operator.username,
        issued_at=issued_now(),
        key_id=human_key_id(),
    )
    return sign_human(claim)


def resolve(case_id: str, operator: Operator, outcome: str, note: str) -> CasePage:
    """Close the case with an outcome and a note; nothing is executed."""
    text = _note(outcome, field="outcome", required=True)[:200]
    return _move(case_id, operator, "resolve", _note(note), {"outcome": text})


def cancel(case_id: str, operator: Operator, note: str = "") -> CasePage:
    """Withdraw the waiting case; nothing is executed."""
    return _move(case_id, operator, "cancel", _note(note))


def capability_forms(process: str) -> list[dict[str, Any]]:
    """Per capability an operator may act with on `process`: name, description, risk and the
    JSON schema of its params (to generate the form)."""
    return _forms(get_spec(process))


__all__ = [
    "act_by_hand",
    "can",
    "cancel",
    "capability_forms",
    "release",
    "resolve",
    "return_to_automation",
    "take",
]
