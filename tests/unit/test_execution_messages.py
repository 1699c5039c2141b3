"""The action queue's one door: any body yields a well-formed message or a rejection."""

from __future__ import annotations

import json
import math

import pytest
from aios.errors import ActionRejected
from aios.execution import parse_message
from aios.execution.messages import MAX_DEPTH
from aios.plans import ActionMessage, CompensationMessage, PlanActionsMessage
from hypothesis import given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)
SHAPED = (
    st.fixed_dictionaries({"task_token": json_values, "plan": json_values, "action": json_values})
    | st.fixed_dictionaries(
        {"task_token": json_values, "plan": json_values, "actions": st.lists(json_values)}
    )
    | st.fixed_dictionaries({"task_token": json_values, "compensate": json_values})
)


def _parse_or_refuse(body: str) -> None:
    try:
        message = parse_message(body)
    except ActionRejected as exc:
        assert exc.code in {"MALFORMED_MESSAGE", "MESSAGE_TOO_LARGE"}
        return
    assert isinstance(message, ActionMessage | PlanActionsMessage | CompensationMessage)


@settings(max_examples=300, deadline=None)
@given(json_values | SHAPED)
def test_arbitrary_json_is_a_message_or_a_rejection_never_another_exception(value) -> None:
    _parse_or_refuse(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_is_a_message_or_a_rejection(body: str) -> None:
    _parse_or_refuse(body)


@pytest.mark.parametrize(
    "body",
    [
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "[" * 100_000,
        json.dumps({"task_token": "t", "plan": {}, "action": {}, "x": math.inf}),
        '{"task_token": "t", "compensate": {"case_id": "c", "key": "k"}, "extra": 1}',
        "x" * (64 * 1024 + 1),
    ],
    ids=["too-deep", "unbalanced-deep", "infinity", "extra-field", "oversized"],
)
def test_edge_bodies_are_refused(body: str) -> None:
    with pytest.raises(ActionRejected):
        parse_message(body)


def test_a_compensation_request_parses() -> None:
    message = parse_message('{"task_token": "t", "compensate": {"case_id": "c-1", "key": "k"}}')
    assert isinstance(message, CompensationMessage) and message.compensate.key == "k"
