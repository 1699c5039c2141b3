"""Parameter constraints: what a process allows a capability's params to be, beyond their type.

A process spec names, per allowed capability, rules the params must keep (`constraints`):

- `targets`, `paths`, `body_schema` (`http.post`): allowed targets, path patterns, a JSON
  Schema for the body;
- `recipients` (`email.send`): a pattern every recipient must match;
- `patterns`, `schemas`: the same for any param of any capability (custom ones included);
- `bounds`: a comparison of a param with a literal or with a value the case cannot choose:
  `{"param": "body.amount", "op": "<=", "ref": "input.amount"}` (the case input) or
  `"ref": "entity.paid_amount"` (the canonical entity state in the ledger);
- `unique_per: "entity"`: at most one applied action of this capability per entity;
  `unique_per: "param:<path>"`: at most one per entity and value of that param (one refund per
  order of a customer);
- `caps`: the sum of a numeric param over the applied actions of this capability on the entity
  in a calendar day or month stays at or below a maximum (credits per customer per month),
  claimed in the ledger by the execution plane so that concurrent actions cannot both pass.

Rules may carry a `name` (bounds, caps; `unique_name` for the uniqueness rule): a refusal names
the rule it broke, and an applied action records every rule that held (`rules_held`), so the
audit trail ties each decision to the policy that allowed or blocked it.

The language is deliberately tiny: dotted paths, six comparison operators, regular expressions
matched in full and JSON Schema. Nothing is evaluated as code. Numbers compare with numbers;
strings and booleans only with `==` and `!=`; a missing param or reference breaks the rule
(fail closed) unless the bound names a `default`. The decision plane checks these rules before
it signs (a plan that breaks one gets one repair, then a person); the execution plane checks
them again before it applies, with the uniqueness rule claimed in the ledger so that two
concurrent actions cannot both pass it.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aios.errors import ConstraintViolated

PARAM_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
REF_PATH = r"^(input|entity)(\.[A-Za-z_][A-Za-z0-9_]*)+$"
RULE_NAME = r"^[a-z][a-z0-9-]{0,62}$"
UNIQUE_PER = r"^(entity|param:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)$"
Scalar = float | int | str | bool
Op = Literal[">", ">=", "<", "<=", "==", "!="]
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_MISSING = object()

#: Shorthand fields and the one capability each belongs to.
SHORTHANDS: dict[str, str] = {
    "targets": "http.post",
    "paths": "http.post",
    "body_schema": "http.post",
    "recipients": "email.send",
}


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=256)
def _schema_validator(schema_json: str) -> Callable[[Any], Any]:
    import fastjsonschema

    validate: Callable[[Any], Any] = fastjsonschema.compile(json.loads(schema_json))
    return validate


def _valid_regex(value: str) -> str:
    try:
        _regex(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {value!r}: {exc}") from exc
    return value


def _valid_schema(value: dict[str, Any]) -> dict[str, Any]:
    import fastjsonschema

    try:
        _schema_validator(json.dumps(value, sort_keys=True))
    except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
        raise ValueError(f"not a JSON Schema: {exc}") from exc
    return value


class ParamPattern(BaseModel):
    """The param (every item, for a list) must match `pattern` in full."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str = Field(pattern=PARAM_PATH)
    pattern: str = Field(min_length=1, max_length=1000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _valid_regex(value)


class ParamSchema(BaseModel):
    """The param must be valid against a JSON Schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str = Field(pattern=PARAM_PATH)
    json_schema: dict[str, Any]

    @field_validator("json_schema")
    @classmethod
    def _compiles(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _valid_schema(value)


class Bound(BaseModel):
    """`param op value`, or `param op ref` where ref is `input.<path>` or `entity.<path>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str = Field(pattern=PARAM_PATH)
    op: Op
    value: Scalar | None = None
    ref: str | None = Field(default=None, pattern=REF_PATH)
    default: Scalar | None = None
    """What `ref` stands for when it names nothing (say, an entity no action has written yet)."""
    name: str | None = Field(default=None, pattern=RULE_NAME)

    @model_validator(mode="after")
    def _one_operand(self) -> Bound:
        if (self.value is None) == (self.ref is None):
            raise ValueError("a bound names exactly one of 'value' and 'ref'")
        if self.default is not None and self.ref is None:
            raise ValueError("'default' goes with 'ref'")
        return self

    def describe(self) -> str:
        other = self.ref if self.ref is not None else json.dumps(self.value)
        return f"{self.param} {self.op} {other}"

    def label(self) -> str:
        return self.name or f"bound {self.describe()}"


class Cap(BaseModel):
    """The sum of `param` over the capability's applied actions on the entity per calendar
    `per` (UTC) stays at or below `max`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str = Field(pattern=PARAM_PATH)
    max: float = Field(gt=0)
    per: Literal["day", "month"]
    name: str | None = Field(default=None, pattern=RULE_NAME)

    def label(self) -> str:
        return self.name or f"cap sum({self.param}) <= {self.max:g} per {self.per}"

    def period(self, at: datetime) -> str:
        return at.strftime("%Y-%m-%d" if self.per == "day" else "%Y-%m")

    def key(self, capability: str, at: datetime) -> str:
        """The ledger key of the running total this action adds to."""
        return f"{capability}#{self.param}#{self.period(at)}"


class CapabilityConstraints(BaseModel):
    """The rules one allowed capability's params must keep in this process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[str] | None = Field(default=None, min_length=1)
    paths: list[str] | None = Field(default=None, min_length=1)
    body_schema: dict[str, Any] | None = None
    recipients: list[str] | None = Field(default=None, min_length=1)
    patterns: list[ParamPattern] = Field(default_factory=list)
    schemas: list[ParamSchema] = Field(default_factory=list)
    bounds: list[Bound] = Field(default_factory=list)
    unique_per: str | None = Field(default=None, pattern=UNIQUE_PER)
    unique_name: str | None = Field(default=None, pattern=RULE_NAME)
    caps: list[Cap] = Field(default_factory=list)

    @field_validator("paths", "recipients")
    @classmethod
    def _regexes(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or ():
            _valid_regex(pattern)
        return value

    @field_validator("body_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _valid_schema(value) if value is not None else None

    def shorthands(self) -> list[str]:
        """The capability-specific fields this set of rules uses."""
        return [name for name in SHORTHANDS if getattr(self, name) is not None]

    def all_patterns(self) -> list[ParamPattern]:
        """`patterns` with the shorthands spelled out as patterns."""
        out = list(self.patterns)
        if self.targets is not None:
            out.append(
                ParamPattern(param="target", pattern="|".join(re.escape(t) for t in self.targets))
            )
        if self.paths is not None:
            out.append(ParamPattern(param="path", pattern="|".join(f"(?:{p})" for p in self.paths)))
        if self.recipients is not None:
            out.append(
                ParamPattern(param="to", pattern="|".join(f"(?:{p})" for p in self.recipients))
            )
        return out

    def all_schemas(self) -> list[ParamSchema]:
        out = list(self.schemas)
        if self.body_schema is not None:
            out.append(ParamSchema(param="body", json_schema=self.body_schema))
        return out

    @property
    def reads_entity(self) -> bool:
        """Whether checking needs the entity's canonical state or its uniqueness claim."""
        return self.unique_per is not None or any(
            b.ref is not None and b.ref.startswith("entity.") for b in self.bounds
        )

    def unique_label(self) -> str:
        return self.unique_name or f"unique per {self.unique_per}"

    def unique_key(self, capability: str, params: Mapping[str, Any]) -> str | None:
        """The key of the uniqueness claim this action takes on its entity (None without one):
        the capability, or the capability and the value of the param it is unique per."""
        if self.unique_per is None:
            return None
        if self.unique_per == "entity":
            return capability
        path = self.unique_per.removeprefix("param:")
        value = lookup(params, path)
        if value is _MISSING or isinstance(value, Mapping | list):
            raise ConstraintViolated(
                f"{capability}: {self.unique_label()}: {path} is absent or not a single value",
                violations=[f"{self.unique_label()}: {path} is absent"],
                rules=[self.unique_label()],
            )
        return f"{capability}#{path}={value}"

    def rules_held(self) -> list[str]:
        """The labels of every rule, for the record of an action that kept them all."""
        held = [f"{p.param} matches /{p.pattern}/" for p in self.all_patterns()]
        held += [f"{s.param} matches its schema" for s in self.all_schemas()]
        held += [b.label() for b in self.bounds]
        held += [c.label() for c in self.caps]
        if self.unique_per is not None:
            held.append(self.unique_label())
        return held


@dataclass(frozen=True)
class Facts:
    """What the rules may refer to besides the params: values the model cannot choose."""

    input: Mapping[str, Any]
    entity: Mapping[str, Any] | None = None
    """The entity's canonical state (None when no action has written it yet)."""
    unique_holder: str | None = None
    """The action that holds this capability's uniqueness claim on the entity, if any."""
    action_id: str = ""
    cap_totals: Mapping[str, float] | None = None
    """Per cap label: what the other applied actions in the cap's period add up to (None: the
    caps are not checked here; the execution plane claims them)."""


def lookup(root: Any, path: str) -> Any:
    """The value at a dotted path, or `_MISSING`."""
    value = root
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _compare(left: Any, op: str, right: Any) -> str | None:
    """None when `left op right` holds; otherwise why not."""
    numeric = isinstance(left, int | float) and not isinstance(left, bool)
    other_numeric = isinstance(right, int | float) and not isinstance(right, bool)
    if numeric != other_numeric:
        return f"cannot compare {json.dumps(left)} with {json.dumps(right)}"
    if not numeric and op not in ("==", "!="):
        return f"{op} compares numbers only"
    if not _OPS[op](left, right):
        return f"{json.dumps(left)} {op} {json.dumps(right)} does not hold"
    return None


def _bound_violation(bound: Bound, params: Mapping[str, Any], facts: Facts) -> str | None:
    label = bound.label() if bound.name is None else f"{bound.name}: {bound.describe()}"
    left = lookup(params, bound.param)
    if left is _MISSING:
        return f"{label}: {bound.param} is absent"
    if bound.ref is None:
        right: Any = bound.value
    else:
        scope, _, path = bound.ref.partition(".")
        root = facts.input if scope == "input" else (facts.entity or {})
        right = lookup(root, path)
        if right is _MISSING:
            if bound.default is None:
                return f"{label}: {bound.ref} is absent"
            right = bound.default
    problem = _compare(left, bound.op, right)
    return f"{label}: {problem}" if problem else None


def cap_amount(cap: Cap, params: Mapping[str, Any]) -> float | None:
    """The number this action adds to the cap's total (None: absent or not a number)."""
    value = lookup(params, cap.param)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value)


def _cap_violation(cap: Cap, params: Mapping[str, Any], facts: Facts) -> str | None:
    amount = cap_amount(cap, params)
    if amount is None:
        return f"{cap.label()}: {cap.param} is absent or not a number"
    if facts.cap_totals is None:
        return None
    total = facts.cap_totals.get(cap.label(), 0.0)
    if total + amount > cap.max:
        return f"{cap.label()}: {total:g} already this {cap.per} + {amount:g} > {cap.max:g}"
    return None


def _pattern_violation(rule: ParamPattern, params: Mapping[str, Any]) -> str | None:
    value = lookup(params, rule.param)
    if value is _MISSING:
        return f"{rule.param} is absent"
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str) or _regex(rule.pattern).fullmatch(item) is None:
            return f"{rule.param}: {json.dumps(item)[:200]} is not allowed by /{rule.pattern}/"
    return None


def _schema_violation(rule: ParamSchema, params: Mapping[str, Any]) -> str | None:
    import fastjsonschema

    value = lookup(params, rule.param)
    if value is _MISSING:
        return f"{rule.param} is absent"
    try:
        _schema_validator(json.dumps(rule.json_schema, sort_keys=True))(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.message.replace("data", rule.param, 1)
        return f"{where}"
    return None


def violations(
    constraints: CapabilityConstraints, params: Mapping[str, Any], facts: Facts
) -> list[str]:
    """Every rule the params break, in a stable order; empty when they keep them all."""
    found: list[str] = []
    for pattern in constraints.all_patterns():
        if problem := _pattern_violation(pattern, params):
            found.append(problem)
    for schema in constraints.all_schemas():
        if problem := _schema_violation(schema, params):
            found.append(problem)
    for bound in constraints.bounds:
        if problem := _bound_violation(bound, params, facts):
            found.append(problem)
    for cap in constraints.caps:
        if problem := _cap_violation(cap, params, facts):
            found.append(problem)
    if (
        constraints.unique_per is not None
        and facts.unique_holder is not None
        and facts.unique_holder != facts.action_id
    ):
        found.append(f"{constraints.unique_label()}: action {facts.unique_holder} holds it already")
    return found


def check_params(
    capability: str,
    constraints: CapabilityConstraints | None,
    params: Mapping[str, Any],
    facts: Facts,
) -> None:
    """Raise ConstraintViolated naming every broken rule; nothing when there are no rules."""
    if constraints is None:
        return
    found = violations(constraints, params, facts)
    if found:
        raise ConstraintViolated(
            f"{capability} params break the process's constraints: {'; '.join(found)}"[:2000],
            violations=found,
            rules=[v.split(":", 1)[0] for v in found],
        )
