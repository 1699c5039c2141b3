"""Which way a decision goes: a plan's actions go to the queue in one message only when nothing
between them needs a gate, they touch one entity (the message group stays the entity key) and
they fit; any other plan goes through each action's gate, one message per action."""

from __future__ import annotations

from typing import Any

from aios.plans import (
    MAX_PLAN_ACTIONS,
    ONE_MESSAGE_ACTIONS_BYTES,
    ActionSpec,
    Decision,
    Handoff,
    PlannedAction,
)


def _action(
    index: int, gate: str = "auto", entity: str = "t/ticket#1", **params: Any
) -> PlannedAction:
    spec = ActionSpec(
        action_id=f"c-1.p1.a{index}",
        case_id="c-1",
        plan_id="c-1.p1",
        index=index,
        capability="http.post",
        params=params or {"path": "/x"},
        entity_key=entity,
        risk="low",
    )
    return PlannedAction(**spec.model_dump(), gate=gate, digest=spec.digest())


def _route(actions: list[PlannedAction]) -> tuple[str, str | None]:
    decision = Decision(plan=None, actions=actions, summary="s")
    dumped = decision.model_dump(mode="json")
    return dumped["route"], dumped["entity_key"]


def test_auto_actions_on_one_entity_go_in_one_message_grouped_by_it() -> None:
    assert _route([_action(0), _action(1)]) == ("auto", "t/ticket#1")


def test_any_other_plan_goes_through_each_actions_gate() -> None:
    assert _route([_action(0), _action(1, gate="approve")]) == ("gated", None)
    assert _route([_action(0), _action(1, gate="deny")]) == ("gated", None)
    assert _route([_action(0), _action(1, entity="t/ticket#2")]) == ("gated", None)
    assert _route([]) == ("gated", None)  # nothing to send: the Map over no actions
    many = [_action(i) for i in range(MAX_PLAN_ACTIONS + 1)]
    assert _route(many) == ("gated", None)


def test_actions_too_large_for_one_message_go_one_by_one() -> None:
    half = "x" * (ONE_MESSAGE_ACTIONS_BYTES // 2)
    assert _route([_action(0, body=half), _action(1, body=half)]) == ("gated", None)
    assert _route([_action(0, body=half)]) == ("auto", "t/ticket#1")


def test_a_handoff_goes_to_a_person() -> None:
    handoff = Handoff(reason="LOW_CONFIDENCE")
    decision = Decision(plan=None, actions=[], summary="s", handoff=handoff)
    assert (decision.route, decision.entity_key) == ("handoff", None)
