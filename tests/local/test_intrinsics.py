"""The CloudFormation intrinsic resolver on its own: pure, no emulated AWS, no files."""

from __future__ import annotations

import ast
import base64
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from local.assembly import intrinsics
from local.assembly.errors import AssemblyError
from local.assembly.intrinsics import (
    NO_VALUE,
    Resolved,
    Resolver,
    placeholder,
    referenced_ids,
    resolve_value,
)

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "WithDefault": {"Type": "String", "Default": "dflt"},
        "Required": {"Type": "String"},
    },
    "Conditions": {
        "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        "InEu": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
        "Either": {"Fn::Or": [{"Condition": "InUsEast1"}, {"Condition": "InEu"}]},
        "Both": {"Fn::And": [{"Condition": "InUsEast1"}, {"Condition": "InEu"}]},
        "NotEu": {"Fn::Not": [{"Condition": "InEu"}]},
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Unused": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "the-role"}},
    },
}


class Recorder:
    """A `create` callback that names each resource and records the calls it gets."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
        self.calls.append(logical_id)
        return Resolved(f"ref-{logical_id}", {"Arn": f"arn-{logical_id}"})


def resolver(create: Any = None, region: str = "us-east-1") -> Resolver:
    return Resolver(TEMPLATE, "Stack", region, "111122223333", create or Recorder())


# -- Ref, parameters, pseudo parameters


def test_pseudo_parameters_name_the_stack_region_and_account() -> None:
    r = resolver(region="eu-west-1")
    names = ["AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"]
    assert [r.resolve({"Ref": name}) for name in names] == [
        "eu-west-1",
        "111122223333",
        "aws",
        "amazonaws.com",
    ]
    assert r.resolve({"Ref": "AWS::StackName"}) == "Stack"
    assert r.resolve({"Ref": "AWS::StackId"}) == (
        "arn:aws:cloudformation:eu-west-1:111122223333:stack/Stack/local"
    )
    assert r.resolve({"Ref": "AWS::NotificationARNs"}) == []


def test_unknown_pseudo_parameter_and_parameter_without_default_fail() -> None:
    r = resolver()
    with pytest.raises(AssemblyError, match="unknown pseudo parameter AWS::Nope"):
        r.resolve({"Ref": "AWS::Nope"})
    with pytest.raises(AssemblyError, match="parameter Required has no default"):
        r.resolve({"Ref": "Required"})
    assert r.resolve({"Ref": "WithDefault"}) == "dflt"


def test_each_resource_is_created_once_on_first_reference_and_never_if_unreferenced() -> None:
    create = Recorder()
    r = resolver(create)
    value = [
        {"Ref": "Queue"},
        {"Fn::GetAtt": ["Queue", "Arn"]},
        {"Fn::GetAtt": "Queue.Arn"},
        {"Fn::Sub": "${Queue}|${Queue.Arn}"},
    ]
    assert r.resolve(value) == ["ref-Queue", "arn-Queue", "arn-Queue", "ref-Queue|arn-Queue"]
    assert create.calls == ["Queue"]


def test_a_circular_reference_fails_naming_the_cycle() -> None:
    template = {
        "Resources": {
            "A": {"Type": "T::A::A", "Properties": {"Next": {"Ref": "B"}}},
            "B": {"Type": "T::B::B", "Properties": {"Next": {"Fn::GetAtt": ["A", "Arn"]}}},
        }
    }

    def create(logical_id: str, resource: Mapping[str, Any]) -> Resolved:
        return Resolved(r.resolve(resource["Properties"]["Next"]))

    r = Resolver(template, "Stack", "us-east-1", "111122223333", create)
    with pytest.raises(AssemblyError, match="circular reference: A -> B -> A"):
        r.resolve({"Ref": "A"})


def test_a_reference_to_an_unknown_resource_fails() -> None:
    with pytest.raises(AssemblyError, match="reference to unknown resource Nope"):
        resolver().resolve({"Fn::GetAtt": ["Nope", "Arn"]})


# -- Fn::GetAtt and placeholders


def test_get_att_attribute_name_may_itself_be_an_intrinsic() -> None:
    value = {"Fn::GetAtt": ["Queue", {"Fn::Join": ["", ["A", "rn"]]}]}
    assert resolver().resolve(value) == "arn-Queue"


def test_an_attribute_an_emulated_resource_lacks_fails_but_a_placeholder_names_it() -> None:
    r = resolver()
    with pytest.raises(AssemblyError, match=r"Queue \(AWS::SQS::Queue\) has no emulated attribute"):
        r.resolve({"Fn::GetAtt": ["Queue", "QueueName"]})

    def create(logical_id: str, resource: Mapping[str, Any]) -> Resolved:
        return placeholder(logical_id, resource, "us-east-1", "111122223333")

    p = resolver(create)
    assert p.resolve({"Fn::GetAtt": ["Queue", "QueueName"]}) == "Queue.QueueName"


def test_placeholders_name_roles_by_role_name_and_others_by_logical_id() -> None:
    role = placeholder(
        "Role", {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r"}}, "x", "1"
    )
    assert (role.ref, role.attributes, role.placeholder) == (
        "r",
        {"Arn": "arn:aws:iam::1:role/r"},
        True,
    )
    unnamed = placeholder("Role", {"Type": "AWS::IAM::Role"}, "x", "1")
    assert (unnamed.ref, unnamed.attributes["Arn"]) == ("Role", "arn:aws:iam::1:role/Role")
    alarm = placeholder("Alarm", {"Type": "AWS::CloudWatch::Alarm"}, "eu-west-1", "1")
    assert (alarm.ref, alarm.attributes["Arn"]) == (
        "Alarm",
        "arn:aws:cloudwatch:eu-west-1:1:Alarm",
    )
    untyped = placeholder("Thing", {}, "eu-west-1", "1")
    assert untyped.attributes["Arn"] == "arn:aws:unknown:eu-west-1:1:Thing"


def test_resolve_value_uses_given_attributes_and_placeholders_for_the_rest() -> None:
    value = [{"Ref": "Queue"}, {"Fn::GetAtt": ["Role", "Arn"]}, {"Ref": "Unused"}]
    assert resolve_value(value, TEMPLATE, attributes={"Queue": ("q-url", {})}) == [
        "q-url",
        "arn:aws:iam::123456789012:role/the-role",
        "Unused",
    ]


# -- Fn::Sub


def test_sub_prefers_its_variables_then_attributes_then_refs() -> None:
    value = {
        "Fn::Sub": [
            "${Queue}/${Queue.Arn}/${AWS::Region}/${Name}/${!Queue}",
            {"Queue": "var", "Name": {"Ref": "WithDefault"}},
        ]
    }
    assert resolver().resolve(value) == "var/arn-Queue/us-east-1/dflt/${Queue}"


# -- conditions, Fn::If, AWS::NoValue


def test_conditions_combine_with_and_or_not() -> None:
    r = resolver(region="eu-west-1")
    assert [r.condition(name) for name in ("InUsEast1", "InEu", "Either", "Both", "NotEu")] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert r.resolve({"Fn::If": ["NotEu", "a", "b"]}) == "b"
    assert r.resolve({"Condition": "Either"}) is True


def test_fn_if_to_no_value_drops_the_key_and_the_list_item() -> None:
    value = {
        "Kept": {"Fn::If": ["InUsEast1", "yes", {"Ref": "AWS::NoValue"}]},
        "Dropped": {"Fn::If": ["InEu", "yes", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["InEu", "b", {"Ref": "AWS::NoValue"}]}, "c"],
    }
    assert resolver().resolve(value) == {"Kept": "yes", "List": ["a", "c"]}
    assert resolver().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


# -- the rest


def test_get_azs_defaults_to_the_stack_region() -> None:
    r = resolver(region="eu-west-1")
    assert r.resolve({"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert r.resolve({"Fn::GetAZs": "us-west-2"})[0] == "us-west-2a"


def test_import_value_is_not_supported() -> None:
    with pytest.raises(AssemblyError, match="not supported by the local emulation: 'Shared'"):
        resolver().resolve({"Fn::ImportValue": "Shared"})


def test_a_mapping_with_several_keys_is_ordinary_even_if_one_is_an_intrinsic_name() -> None:
    value = {"Ref": "Queue", "Other": {"Ref": "WithDefault"}}
    assert resolver().resolve(value) == {"Ref": "Queue", "Other": "dflt"}


def test_referenced_ids_sees_ref_and_get_att_at_any_depth() -> None:
    value = {
        "Fn::Join": [
            "",
            [
                {"Ref": "AWS::Partition"},
                {"Fn::GetAtt": ["Fn", "Arn"]},
                {"Nested": [{"Fn::GetAtt": "Other.Arn"}]},
                {"Fn::Sub": "${NotSeen}"},
            ],
        ]
    }
    assert referenced_ids(value) == {"AWS::Partition", "Fn", "Other"}


def test_the_resolver_module_imports_only_the_standard_library_and_the_error() -> None:
    tree = ast.parse(Path(intrinsics.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    outside = {
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"
    }
    assert outside == {"local.assembly.errors"}


# -- properties

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)
plain_text = st.text(st.characters(blacklist_characters="${}"), max_size=12)
INTRINSIC_KEYS = {"Ref", "Condition", *Resolver._INTRINSICS}


@given(delimiter=st.text(min_size=1, max_size=3), items=st.lists(st.text(), min_size=1))
def test_split_undoes_join(delimiter: str, items: list[str]) -> None:
    assume(all(delimiter not in item for item in items))
    joined = {"Fn::Join": [delimiter, items]}
    assert resolver().resolve({"Fn::Split": [delimiter, joined]}) == items


@given(
    delimiter=st.text(min_size=1, max_size=3),
    items=st.lists(st.text(), min_size=1),
    data=st.data(),
)
def test_select_picks_the_item_of_a_split(delimiter: str, items: list[str], data: Any) -> None:
    assume(all(delimiter not in item for item in items))
    index = data.draw(st.integers(0, len(items) - 1))
    split = {"Fn::Split": [delimiter, delimiter.join(items)]}
    assert resolver().resolve({"Fn::Select": [str(index), split]}) == items[index]


@st.composite
def sub_templates(draw: st.DrawFn) -> tuple[str, dict[str, str], str]:
    """(Fn::Sub text, its variables, the text CloudFormation would produce)."""
    variables = draw(st.dictionaries(names, st.text(max_size=8), min_size=1, max_size=4))
    parts = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("text"), plain_text),
                st.tuples(st.just("variable"), st.sampled_from(sorted(variables))),
                st.tuples(st.just("literal"), names),
            ),
            max_size=8,
        )
    )
    text, expected = "", ""
    for kind, value in parts:
        if kind == "text":
            text, expected = text + value, expected + value
        elif kind == "variable":
            text, expected = text + "${" + value + "}", expected + variables[value]
        else:
            text, expected = text + "${!" + value + "}", expected + "${" + value + "}"
    return text, variables, expected


@given(sub_templates())
def test_sub_replaces_variables_once_and_keeps_escaped_literals(
    case: tuple[str, dict[str, str], str],
) -> None:
    text, variables, expected = case
    assert resolver().resolve({"Fn::Sub": [text, variables]}) == expected


json_keys = st.text(min_size=1, max_size=8).filter(lambda key: key not in INTRINSIC_KEYS)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_a_value_without_intrinsics_resolves_to_itself(value: Any) -> None:
    create = Recorder()
    assert resolver(create).resolve(value) == value
    assert create.calls == []


@given(st.lists(st.one_of(st.text(), st.just(None)), max_size=8))
def test_no_value_items_are_dropped_and_the_rest_keep_their_order(items: list[str | None]) -> None:
    value = [{"Ref": "AWS::NoValue"} if item is None else item for item in items]
    assert resolver().resolve(value) == [item for item in items if item is not None]


@given(st.text())
def test_base64_encodes_the_resolved_text_as_utf8(text: str) -> None:
    encoded = resolver().resolve({"Fn::Base64": {"Fn::Join": ["", [text]]}})
    assert base64.b64decode(encoded).decode() == text
