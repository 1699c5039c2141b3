"""The deployed runtime configuration: the document and its JSON Schema (draft 4, as AppConfig
validates), parsing it into the specs in force, and a function's reader that keeps the last
good document when a new one does not validate."""

from __future__ import annotations

import copy
import json
from typing import Any

import fastjsonschema
import pytest
from aios.capabilities import capability_names
from aios.control.config import DeployedConfig, build_document, document_schema, parse_document
from aios.errors import SpecError
from aios.settings import load_settings
from aios.specs import load_specs, process_folders

SETTINGS = load_settings(
    {
        "AIOS_CONFIG_APPLICATION": "app",
        "AIOS_CONFIG_ENVIRONMENT": "live",
        "AIOS_CONFIG_PROFILE": "processes",
        "AIOS_CONFIG_MAX_AGE_SECONDS": "30",
    }
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_the_schema_is_draft_4_within_appconfigs_limit_and_accepts_the_workspace(
    document: dict[str, Any],
) -> None:
    schema = document_schema(sorted(capability_names()))
    text = json.dumps(schema, separators=(",", ":"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert len(text) <= 32768 and "$defs" not in text and '"const"' not in text
    fastjsonschema.compile(schema)(document)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            lambda d: d["processes"]["ticket-triage"]["spec"]["capabilities"].append("x.y"),
            "capabilities",
        ),
        (lambda d: d["processes"]["ticket-triage"]["spec"].update(surprise=1), "additional"),
        (lambda d: d["processes"]["ticket-triage"]["prompts"].update({"../x": "y"}), "prompts"),
        (lambda d: d["processes"]["refund-request"]["spec"].pop("entity_key"), "entity_key"),
    ],
)
def test_the_schema_refuses_what_the_planes_would_refuse(
    document: dict[str, Any], change: Any, where: str
) -> None:
    bad = copy.deepcopy(document)
    change(bad)
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as refused:
        fastjsonschema.compile(document_schema(sorted(capability_names())))(bad)
    assert where in str(refused.value.message) + str(refused.value.rule)


def test_deployed_specs_are_the_bundled_ones_with_the_same_hash(document: dict[str, Any]) -> None:
    deployed = parse_document(json.dumps(document))
    assert {n: s.ref for n, s in deployed.items()} == {n: s.ref for n, s in load_specs().items()}


def test_prompts_deployed_with_a_spec_win_over_the_files(document: dict[str, Any]) -> None:
    changed = copy.deepcopy(document)
    name = changed["processes"]["ticket-triage"]["spec"]["decision"]["prompts"]["plan"]
    changed["processes"]["ticket-triage"]["prompts"][name] = "Plan carefully.\n---\n$input"
    folders = {f.name: f for f in process_folders()}
    spec = parse_document(json.dumps(changed), folders=folders)["ticket-triage"]
    assert spec.prompt("plan").system == "Plan carefully."
    assert spec.prompt("plan").version != load_specs()["ticket-triage"].prompt("plan").version
    assert spec.folder == folders["ticket-triage"]  # its offline rules stay reachable


class Provider:
    """Powertools' AppConfigProvider as the reader sees it: `get(name, max_age)`."""

    def __init__(self, *contents: bytes) -> None:
        self.contents = list(contents)
        self.calls: list[tuple[str, int]] = []

    def get(self, name: str, max_age: int) -> bytes:
        self.calls.append((name, max_age))
        return self.contents[0] if len(self.contents) == 1 else self.contents.pop(0)


def test_a_document_that_does_not_validate_leaves_the_last_good_one_serving(
    document: dict[str, Any],
) -> None:
    good = json.dumps(document).encode()
    changed = copy.deepcopy(document)
    changed["processes"]["ticket-triage"]["spec"]["example_input"] = {"ticket_id": 7}
    bad = json.dumps(changed).encode()  # schema-valid, but the example breaks the input schema
    reader = DeployedConfig(SETTINGS, provider=Provider(bad, good, bad, bad))
    assert reader.specs() is None  # nothing good yet: the bundled specs serve
    served = reader.specs()
    assert served is not None and set(served) == set(document["processes"])
    assert reader.specs() is served and reader.specs() is served  # refused, once
    assert len(reader.refused) == 1
    assert "example_input" in next(iter(reader.refused.values()))
    assert reader._provider.calls[0] == ("processes", 30)  # type: ignore[attr-defined]


class Unreachable:
    def get(self, name: str, max_age: int) -> bytes:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        raise GetParameterError("AccessDeniedException")


def test_an_unreadable_configuration_leaves_the_last_good_specs_serving(
    document: dict[str, Any],
) -> None:
    reader = DeployedConfig(SETTINGS, provider=Provider(json.dumps(document).encode()))
    served = reader.specs()
    reader._provider = Unreachable()
    assert reader.specs() is served
    assert DeployedConfig(SETTINGS, provider=Unreachable()).specs() is None  # bundled serve


def test_a_broken_document_names_the_process() -> None:
    with pytest.raises(SpecError, match="processes"):
        parse_document(b'{"processes": {}}')
    with pytest.raises(SpecError, match="not JSON"):
        parse_document(b"{")
    with pytest.raises(SpecError, match="is named"):
        spec = load_specs()["refund-request"].model_dump(mode="json", by_alias=True)
        parse_document(json.dumps({"processes": {"other-name": {"spec": spec}}}))
