"""CloudFormation intrinsic functions over one template, with no side effects.

Pure: no AWS client, no file, no network, no clock. A `Resolver` gets the template, the values
of the pseudo parameters (stack name, region, account) and a `create` callback that gives a
resource's `Resolved` value (its Ref and attributes) from its logical id. What the callback does
(create the resource in the emulated AWS, or name a placeholder) is the caller's business.

Guarantees:

- `create` is called at most once per logical id, the first time a value refers to it, and
  never for a resource nothing refers to; a resource that refers back to itself through others
  raises `AssemblyError` naming the cycle.
- Supported: Ref (resources, parameters with a Default, the pseudo parameters), Fn::GetAtt
  (`"Id.Attr"` and `[Id, Attr]`), Fn::Join, Fn::Select, Fn::Split, Fn::Sub (both forms,
  `${Id.Attr}`, and `${!Literal}` for a literal `${Literal}`), Fn::If, Fn::Equals, Fn::Not,
  Fn::And, Fn::Or, Condition (each condition evaluated once), Fn::GetAZs and Fn::Base64.
- `AWS::NoValue` drops the enclosing mapping key or list item.
- Fn::ImportValue, an unknown reference, a parameter without a default, an unknown pseudo
  parameter and an attribute an emulated resource does not have raise `AssemblyError`.
- A mapping with any other single key is an ordinary mapping: its values are resolved, the key
  is kept.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from local.assembly.errors import AssemblyError

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class _NoValue:
    """The type of `NO_VALUE`; one instance."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()  # Ref AWS::NoValue: dropped from the enclosing mapping or list

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Resolved:
    """What a resource resolves to: its Ref value and its Fn::GetAtt attributes."""

    ref: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)
    placeholder: bool = False  # not emulated: any attribute resolves to a placeholder


Create = Callable[[str, Mapping[str, Any]], Resolved]
"""(logical id, resource as the template declares it) -> its resolved value."""


def pseudo_parameters(stack_name: str, region: str, account: str) -> dict[str, Any]:
    """The AWS pseudo parameters (`AWS::Region`, ...) of a stack in `region` and `account`."""
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


class Resolver:
    """CloudFormation intrinsic functions over a template, asking `create` for each resource."""

    def __init__(
        self,
        template: Mapping[str, Any],
        stack_name: str,
        region: str,
        account: str,
        create: Create,
    ) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.parameters: Mapping[str, Any] = template.get("Parameters", {})
        self.conditions: Mapping[str, Any] = template.get("Conditions", {})
        self.stack_name = stack_name
        self.region = region
        self.account = account
        self._pseudo = pseudo_parameters(stack_name, region, account)
        self._create = create
        self._done: dict[str, Resolved] = {}
        self._in_progress: list[str] = []
        self._condition_values: dict[str, bool] = {}

    # -- pseudo parameters, parameters, resources, conditions

    def pseudo(self, name: str) -> Any:
        """The value of pseudo parameter `name` (`AWS::Region`...)."""
        if name not in self._pseudo:
            raise AssemblyError(f"unknown pseudo parameter {name}")
        return self._pseudo[name]

    def resource(self, logical_id: str) -> Resolved:
        """The resolved value of resource `logical_id`, created on first use."""
        if logical_id in self._done:
            return self._done[logical_id]
        if logical_id not in self.resources:
            raise AssemblyError(f"reference to unknown resource {logical_id}")
        if logical_id in self._in_progress:
            cycle = " -> ".join([*self._in_progress, logical_id])
            raise AssemblyError(f"circular reference: {cycle}")
        self._in_progress.append(logical_id)
        try:
            resolved = self._create(logical_id, self.resources[logical_id])
        finally:
            self._in_progress.pop()
        self._done[logical_id] = resolved
        return resolved

    def ref(self, name: str) -> Any:
        """`{"Ref": name}`: a pseudo parameter, a parameter's default or a resource's Ref."""
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            param = self.parameters[name]
            if "Default" not in param:
                raise AssemblyError(f"parameter {name} has no default")
            return param["Default"]
        return self.resource(name).ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """`{"Fn::GetAtt": [logical_id, attribute]}`."""
        resolved = self.resource(logical_id)
        if attribute not in resolved.attributes:
            if resolved.placeholder:
                return f"{logical_id}.{attribute}"
            rtype = self.resources[logical_id].get("Type")
            raise AssemblyError(f"{logical_id} ({rtype}) has no emulated attribute {attribute}")
        return resolved.attributes[attribute]

    def condition(self, name: str) -> bool:
        """The value of the template's condition `name`, evaluated once."""
        if name not in self._condition_values:
            self._condition_values[name] = bool(self.resolve(self.conditions[name]))
        return self._condition_values[name]

    # -- intrinsic functions

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function in it replaced by its value."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _fn_ref(self, arg: Any) -> Any:
        return self.ref(arg)

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, _, attribute = arg.partition(".")
        else:
            logical_id, attribute = arg[0], self.resolve(arg[1])
        return self.get_att(logical_id, attribute)

    def _fn_join(self, arg: Any) -> str:
        delimiter, items = arg
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _fn_select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def _fn_split(self, arg: Any) -> list[str]:
        delimiter, source = arg
        return str(self.resolve(source)).split(delimiter)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], self.resolve(arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _fn_if(self, arg: Any) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = self.resolve(arg)
        return bool(left == right)

    def _fn_not(self, arg: Any) -> bool:
        return not self.resolve(arg[0])

    def _fn_and(self, arg: Any) -> bool:
        return all(self.resolve(item) for item in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(self.resolve(item) for item in arg)

    def _fn_condition(self, arg: Any) -> bool:
        return self.condition(arg)

    def _fn_get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.region
        return [f"{region}{suffix}" for suffix in "abc"]

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _fn_unsupported(self, arg: Any) -> Any:
        raise AssemblyError(f"intrinsic not supported by the local emulation: {arg!r}")

    _INTRINSICS: ClassVar[dict[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::Sub": _fn_sub,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Condition": _fn_condition,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::Base64": _fn_base64,
        "Fn::ImportValue": _fn_unsupported,
    }


def placeholder(
    logical_id: str, resource: Mapping[str, Any], region: str, account: str
) -> Resolved:
    """Names for a resource the emulation does not create (IAM, logs, alarms, stages...).

    An IAM role is named by its RoleName (else its logical id) with an IAM role ARN; any other
    resource by its logical id with an ARN of its service. Other attributes resolve to
    `"<logical id>.<attribute>"`.
    """
    if resource.get("Type") == "AWS::IAM::Role":
        name = resource.get("Properties", {}).get("RoleName") or logical_id
        return Resolved(name, {"Arn": f"arn:aws:iam::{account}:role/{name}"}, placeholder=True)
    service = resource.get("Type", "AWS::Unknown::X").split("::")[1].lower()
    arn = f"arn:aws:{service}:{region}:{account}:{logical_id}"
    return Resolved(logical_id, {"Arn": arn}, placeholder=True)


def resolve_value(
    value: Any,
    template: Mapping[str, Any],
    stack_name: str = "Stack",
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    attributes: Mapping[str, tuple[Any, Mapping[str, Any]]] | None = None,
) -> Any:
    """Resolve intrinsics in `value` without creating anything (for tests and inspection).

    `attributes` maps logical id -> (Ref value, {attribute: value}); other resources resolve to
    placeholders.
    """
    known = dict(attributes or {})

    def create(logical_id: str, resource: Mapping[str, Any]) -> Resolved:
        if logical_id in known:
            ref, atts = known[logical_id]
            return Resolved(ref, dict(atts))
        return placeholder(logical_id, resource, region, account)

    return Resolver(template, stack_name, region, account, create).resolve(value)


def referenced_ids(value: Any) -> set[str]:
    """Names given to Ref, and logical ids given to Fn::GetAtt, anywhere in an unresolved value.

    Ref names include parameters and pseudo parameters; a name inside an Fn::Sub string is not
    seen.
    """
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_ids(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item.split(".")[0] if isinstance(item, str) else item[0])
            else:
                found |= referenced_ids(item)
    return found
