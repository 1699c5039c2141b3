"""Parse a queue message into an action or compensation message, or refuse it.

Anyone who can write to the action queue can put anything there. `parse_message` is the one
door: it returns a well-formed `ActionMessage`, `PlanActionsMessage` (a plan's auto actions in
one message) or `CompensationMessage`, or raises an
`ActionRejected` (`MESSAGE_TOO_LARGE`, `MALFORMED_MESSAGE`), never another exception, so a
poison message is refused at once instead of being retried until the dead-letter queue while
its message group waits behind it.

Well-formed means: at most 64 KiB, strict JSON (no NaN or Infinity), nested at most
`MAX_DEPTH` deep, exactly the fields of one of the three message shapes with their types, and
values the canonical encoding can hold (the digest of the action and the signed envelope
bytes are computed here once, so verification never meets a value it cannot encode).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from aios.errors import InvalidInput, MalformedMessage, MessageTooLarge
from aios.plans import ActionMessage, CompensationMessage, PlanActionsMessage, PlannedAction
from aios.signing import PlanEnvelope, envelope_bytes

MAX_MESSAGE_BYTES = 64 * 1024
MAX_DEPTH = 32
Message = ActionMessage | PlanActionsMessage | CompensationMessage


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


def _load(body: str) -> Any:
    if len(body.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"message exceeds {MAX_MESSAGE_BYTES} bytes")
    try:
        payload = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"message is not JSON: {str(exc)[:200]}") from None
    if _depth(payload) > MAX_DEPTH:
        raise MalformedMessage(f"message is nested deeper than {MAX_DEPTH} levels")
    return payload


def _validated(payload: Any) -> Message:
    shape: type[ActionMessage] | type[PlanActionsMessage] | type[CompensationMessage] = (
        ActionMessage
    )
    if isinstance(payload, dict) and "compensate" in payload:
        shape = CompensationMessage
    elif isinstance(payload, dict) and "actions" in payload:
        shape = PlanActionsMessage
    try:
        return shape.model_validate(payload)
    except (ValidationError, ValueError, RecursionError) as exc:
        raise MalformedMessage(f"not a valid {shape.__name__}: {str(exc)[:1500]}") from None


def _check_encodable(envelope: PlanEnvelope, actions: list[PlannedAction]) -> None:
    """The plan once, and each action the message carries."""
    try:
        for action in actions:
            action.spec().digest()
        envelope_bytes(envelope)
        for stamp in (envelope.issued_at, envelope.expires_at):
            if datetime.fromisoformat(stamp).tzinfo is None:
                raise ValueError(f"timestamp {stamp!r} has no time zone")
    except (InvalidInput, ValueError, TypeError, RecursionError) as exc:
        raise MalformedMessage(f"message holds values the kit never signs: {exc}") from None


def parse_message(body: str) -> Message:
    """The message in `body`, or ActionRejected saying why it can never be processed."""
    message = _validated(_load(body))
    if isinstance(message, ActionMessage):
        _check_encodable(message.plan.envelope, [message.action])
    elif isinstance(message, PlanActionsMessage):
        _check_encodable(message.plan.envelope, message.actions)
    return message
