"""Parameter constraints: what a process allows a capability's params to be, beyond their type.

A process spec names, per allowed capability, rules the params must keep (`constraints`):

- `targets`, `paths`, `body_schema` (`http.post`): allowed targets, path patterns, a JSON
  Schema for the body;
- `recipients` (`email.send`): a pattern every recipient must match;
- `patterns`, `schemas`: the same for any param of any capability (custom ones included);
- `bounds`: a comparison of a param with a literal or with a value the case cannot choose:
  `{"param": "body.amount", "op": "<=", "ref": "input.amount"}` (the case input) or
  `"ref": "entity.paid_amount"` (the canonical entity state in the ledger);
- `unique_per: "entity"`: at most one applied action of this capability per entity.

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
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aios.errors import ConstraintViolated

PARAM_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
REF_PATH = r"^(input|entity)(\.[A-Za-z_][A-Za-z0-9_]*)+$"
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
    unique_per: Literal["entity"] | None = None

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


@dataclass(frozen=True)
class Facts:
    """What the rules may refer to besides the params: values the model cannot choose."""

    input: Mapping[str, Any]
    entity: Mapping[str, Any] | None = None
    """The entity's canonical state (None when no action has written it yet)."""
    unique_holder: str | None = None
    """The action that holds this capability's uniqueness claim on the entity, if any."""
    action_id: str = ""


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
    left = lookup(params, bound.param)
    if left is _MISSING:
        return f"bound {bound.describe()}: {bound.param} is absent"
    if bound.ref is None:
        right: Any = bound.value
    else:
        scope, _, path = bound.ref.partition(".")
        root = facts.input if scope == "input" else (facts.entity or {})
        right = lookup(root, path)
        if right is _MISSING:
            if bound.default is None:
                return f"bound {bound.describe()}: {bound.ref} is absent"
            right = bound.default
    problem = _compare(left, bound.op, right)
    return f"bound {bound.describe()}: {problem}" if problem else None


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
    if (
        constraints.unique_per == "entity"
        and facts.unique_holder is not None
        and facts.unique_holder != facts.action_id
    ):
        found.append(f"unique per entity: action {facts.unique_holder} holds it already")
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
        )
