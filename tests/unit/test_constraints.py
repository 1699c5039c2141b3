"""The constraint language on its own: patterns, schemas, bounds on input and entity state,
uniqueness, and the spec's checks that rules fit their capability."""

from __future__ import annotations

from typing import Any

import pytest
from aios.constraints import CapabilityConstraints, Facts, check_params, violations
from aios.errors import ConstraintViolated
from aios.specs import ProcessSpec, load_specs
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

PARAMS = {"target": "helpdesk", "path": "/refunds/O-1", "body": {"order_id": "O-1", "amount": 30}}
INPUT = {"order_id": "O-1", "amount": 50}


def rules(**data: Any) -> CapabilityConstraints:
    return CapabilityConstraints.model_validate(data)


def test_params_within_every_rule_pass() -> None:
    ok = rules(
        targets=["helpdesk"],
        paths=[r"/refunds/O-[0-9]+"],
        body_schema={"type": "object", "required": ["amount"]},
        bounds=[
            {"param": "body.amount", "op": "<=", "ref": "input.amount"},
            {"param": "body.order_id", "op": "==", "ref": "input.order_id"},
            {"param": "body.amount", "op": ">", "value": 0},
        ],
    )
    assert violations(ok, PARAMS, Facts(input=INPUT)) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"targets": ["crm"]}, "target"),
        ({"paths": [r"/tickets/.*"]}, "path"),
        ({"body_schema": {"type": "object", "required": ["iban"]}}, "iban"),
        ({"bounds": [{"param": "body.amount", "op": "<=", "value": 10}]}, "30 <= 10"),
        ({"bounds": [{"param": "body.amount", "op": "<", "ref": "entity.paid"}]}, "absent"),
        ({"bounds": [{"param": "body.missing", "op": "<", "value": 1}]}, "absent"),
        ({"bounds": [{"param": "body.order_id", "op": "<", "value": 1}]}, "cannot compare"),
        ({"bounds": [{"param": "body.order_id", "op": ">", "value": "O-0"}]}, "numbers only"),
    ],
)
def test_each_broken_rule_is_named(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConstraintViolated) as caught:
        check_params("http.post", rules(**data), PARAMS, Facts(input=INPUT))
    assert expected in caught.value.message
    assert caught.value.code == "CONSTRAINT_VIOLATED"


def test_entity_bounds_use_the_canonical_state_or_their_default() -> None:
    bound = rules(
        bounds=[{"param": "body.amount", "op": "<=", "ref": "entity.refundable", "default": 40}]
    )
    assert violations(bound, PARAMS, Facts(input=INPUT)) == []  # never written: the default
    assert violations(bound, PARAMS, Facts(input=INPUT, entity={"refundable": 25}))


def test_unique_per_entity_allows_the_holder_only() -> None:
    unique = rules(unique_per="entity")
    assert violations(unique, PARAMS, Facts(input=INPUT)) == []
    assert violations(unique, PARAMS, Facts(input=INPUT, unique_holder="a1", action_id="a1")) == []
    assert violations(unique, PARAMS, Facts(input=INPUT, unique_holder="a0", action_id="a1"))


def test_every_recipient_must_match() -> None:
    mail = rules(recipients=[r"[^@]+@example\.com"])
    good = {"to": ["a@example.com", "b@example.com"]}
    assert violations(mail, good, Facts(input={})) == []
    assert violations(mail, {"to": ["a@example.com", "x@evil.test"]}, Facts(input={}))


@given(st.text(max_size=40))
def test_a_target_list_is_matched_literally(target: str) -> None:
    listed = rules(targets=["help.desk"])
    allowed = violations(listed, {**PARAMS, "target": target}, Facts(input={})) == []
    assert allowed == (target == "help.desk")


@pytest.mark.parametrize(
    "data",
    [
        {"paths": ["(unclosed"]},
        {"body_schema": {"type": "no-such-type"}},
        {"bounds": [{"param": "amount", "op": "<="}]},
        {"bounds": [{"param": "amount", "op": "<=", "value": 1, "ref": "input.amount"}]},
        {"bounds": [{"param": "amount", "op": "<=", "ref": "case.amount"}]},
        {"bounds": [{"param": "amount", "op": "~", "value": 1}]},
        {"unique_per": "tenant"},
        {"eval": "__import__('os')"},
    ],
)
def test_malformed_rules_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        rules(**data)


def _spec(constraints: dict[str, Any]) -> dict[str, Any]:
    data = load_specs()["refund-request"].model_dump(mode="json", by_alias=True)
    return {**data, "constraints": constraints}


def test_a_spec_refuses_rules_for_capabilities_it_does_not_allow_or_that_do_not_fit() -> None:
    with pytest.raises(ValidationError, match="not one of the process's capabilities"):
        ProcessSpec.model_validate(_spec({"email.send": {"recipients": [".*"]}}))
    with pytest.raises(ValidationError, match=r"applies to email\.send only"):
        ProcessSpec.model_validate(_spec({"http.post": {"recipients": [".*"]}}))
    ok = ProcessSpec.model_validate(_spec({"http.post": {"targets": ["helpdesk"]}}))
    assert ok.ref.sha256 != load_specs()["refund-request"].ref.sha256  # the hash sees the rules
