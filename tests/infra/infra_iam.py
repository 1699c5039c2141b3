"""Reading IAM permissions out of a synthesized template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Grant:
    """One allowed action on one resource expression."""

    action: str
    resource: Any


def role_statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every policy statement attached to the role ``role_id`` (inline or AWS::IAM::Policy)."""
    statements: list[dict[str, Any]] = []
    role = resources[role_id]["Properties"]
    for policy in role.get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource[
            "Properties"
        ].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def grants(resources: dict[str, Any], role_id: str) -> list[Grant]:
    """The (action, resource) pairs the role is allowed."""
    return [
        Grant(action, resource)
        for statement in role_statements(resources, role_id)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def actions(resources: dict[str, Any], role_id: str) -> set[str]:
    return {grant.action for grant in grants(resources, role_id)}


def resources_for(resources: dict[str, Any], role_id: str, action: str) -> list[Any]:
    return [grant.resource for grant in grants(resources, role_id) if grant.action == action]


def refers_to(expression: Any, logical_id: str) -> bool:
    """Whether a CloudFormation expression references the resource ``logical_id``."""
    if isinstance(expression, dict):
        if expression.get("Ref") == logical_id:
            return True
        get_att = expression.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att[0] == logical_id:
            return True
        return any(refers_to(value, logical_id) for value in expression.values())
    if isinstance(expression, list):
        return any(refers_to(value, logical_id) for value in expression)
    return False
