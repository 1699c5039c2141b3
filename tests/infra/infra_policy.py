"""A small IAM policy evaluator for the infra tests: may this role make this concrete request?

moto's IAM enforcement checks actions but neither resources nor conditions (its
`IAMPolicyStatement` says so), so it cannot prove a `dynamodb:LeadingKeys` condition. This
evaluates the synthesized identity policies of one role against one request the way IAM does
for the parts the kit uses: an explicit Deny wins, otherwise some Allow must match the action
(exact or with `*`), the resource (a CloudFormation expression naming the table, not one of its
indexes) and every condition. A condition operator it does not know never matches, so an
unknown condition can only make a request look denied, never allowed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from infra_iam import as_list, refers_to, role_statements


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: the action, the resource's logical id, the context keys."""

    action: str
    resource: str
    """Logical id of the resource (the table itself, not an index)."""
    context: dict[str, list[str]] = field(default_factory=dict)


def _names_resource(expression: Any, logical_id: str) -> bool:
    """Whether a Resource entry is exactly the resource (its ARN), not a path under it."""
    if expression == {"Fn::GetAtt": [logical_id, "Arn"]} or expression == {"Ref": logical_id}:
        return True
    if isinstance(expression, dict) and "Fn::Join" in expression:
        parts = expression["Fn::Join"][1]
        text = "".join(p for p in parts if isinstance(p, str))
        return refers_to(parts, logical_id) and "/" not in text
    return False


def _action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, list[str]]) -> bool:
    values = context.get(key)
    patterns = [str(p) for p in as_list(expected)]
    set_op, _, test = operator.rpartition(":")
    tests = {
        "StringLike": lambda v: any(fnmatch.fnmatchcase(v, p) for p in patterns),
        "StringEquals": lambda v: v in patterns,
    }
    if test not in tests:
        return False
    check = tests[test]
    if set_op == "ForAllValues":
        return all(check(v) for v in values or [])
    if set_op == "ForAnyValue":
        return any(check(v) for v in values or [])
    if set_op == "" and values is not None and len(values) == 1:
        return check(values[0])
    return False


def _matches(statement: dict[str, Any], request: Request) -> bool:
    if not any(_action_matches(a, request.action) for a in as_list(statement["Action"])):
        return False
    if not any(_names_resource(r, request.resource) for r in as_list(statement["Resource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, request.context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def allowed(resources: dict[str, Any], role_id: str, request: Request) -> bool:
    """Whether the role's identity policies allow ``request`` (no explicit Deny, some Allow)."""
    statements = [s for s in role_statements(resources, role_id) if _matches(s, request)]
    if any(s["Effect"] == "Deny" for s in statements):
        return False
    return any(s["Effect"] == "Allow" for s in statements)


def ledger_write(action: str, table: str, partition_key: str) -> Request:
    """A write of one ledger item (alone or inside TransactWriteItems: IAM checks each)."""
    return Request(action, table, {"dynamodb:LeadingKeys": [partition_key]})
