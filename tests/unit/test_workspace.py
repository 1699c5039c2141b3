"""Processes and capabilities outside the kit: found, validated, and refused with file and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.unit.workspace_fixtures import copy_process, edit_json

CAPABILITY_OK = """
from pydantic import BaseModel, ConfigDict

from aios.capabilities import Capability, IamStatement, register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str


def put(params, ctx):
    return {"key": params.key}


CAPABILITY = Capability(
    name="store.put", params_model=Params, risk="low", execute=put, description="Put a key.",
    iam=(IamStatement(actions=("dynamodb:PutItem",),
                      resources=("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/store",)),),
)
register(Capability(name="store.touch", params_model=Params, risk="low", execute=put,
                    description="Touch a key."))
"""


def test_the_sample_processes_live_in_the_workspace_not_in_the_library() -> None:
    from aios.specs import load_specs

    specs = load_specs()
    assert {"ticket-triage", "refund-request", "contact-update"} <= set(specs)
    root = Path(__file__).resolve().parents[2]
    assert specs["ticket-triage"].folder == root / "processes" / "ticket-triage"
    assert specs["ticket-triage"].prompt("plan").version.startswith("ticket-triage.plan.v1@")
    assert specs["refund-request"].prompt("plan").name == "default.plan.v1"  # the kit's default
    assert not (root / "layers" / "aios" / "python" / "aios" / "processes").exists()


def test_a_yaml_spec_and_a_user_capability_load(user_root: Path) -> None:
    from aios.capabilities import all_capabilities, get_capability
    from aios.specs import load_specs

    (user_root / "capabilities" / "store.py").write_text(CAPABILITY_OK)
    copy_process(user_root, "contact-update")  # process.yaml, crm.update_contact is not here
    spec_path = user_root / "processes" / "contact-update" / "process.yaml"
    spec_path.write_text(spec_path.read_text().replace("crm.update_contact", "store.put"))
    (user_root / "processes" / "contact-update" / "examples").rename(user_root / "unused")
    assert set(load_specs()) == {"contact-update"}
    assert get_capability("store.put").iam[0].actions == ("dynamodb:PutItem",)
    assert all_capabilities()["store.touch"][1] == "capabilities/store.py"  # register() works too
    assert all_capabilities()["http.post"][1] == "aios"


def test_a_capability_registered_at_import_survives_a_second_discovery(user_root: Path) -> None:
    """A tool or a synth may forget the registry and discover again while the module stays
    imported: what it registered the first time is found again."""
    from aios.capabilities import capability_names, reset_user_capabilities

    (user_root / "capabilities" / "store.py").write_text(CAPABILITY_OK)
    assert {"store.put", "store.touch"} <= capability_names()
    reset_user_capabilities()
    assert {"store.put", "store.touch"} <= capability_names()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entity_key": None}, "entity_key"),
        ({"capabilities": ["no.such_capability"]}, "capabilities"),
        (
            {
                "decision": {
                    "prompts": {
                        "classify": "ticket-triage.classify.v9",
                        "plan": "ticket-triage.plan.v1",
                    }
                }
            },
            "decision.prompts",
        ),
        ({"policy": {"auto_max_risk": "whatever"}}, "policy.auto_max_risk"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_file_and_the_field(
    user_root: Path, change: dict[str, object], field: str
) -> None:
    from aios.errors import SpecError
    from aios.specs import load_specs

    folder = copy_process(user_root, "ticket-triage")
    edit_json(folder / "process.json", **change)
    with pytest.raises(SpecError) as caught:
        load_specs()
    assert "processes/ticket-triage/process.json" in caught.value.message
    assert caught.value.details["field"] == field
    assert caught.value.message.split(": ", 2)[1] == field


def test_a_capability_without_params_model_is_refused_naming_file_and_field(
    user_root: Path,
) -> None:
    from aios.capabilities import capability_names
    from aios.errors import CapabilityDefinitionError

    (user_root / "capabilities" / "broken.py").write_text(
        textwrap.dedent("""
        from aios.capabilities import Capability
        CAPABILITY = Capability(name="crm.broken", risk="low", execute=lambda p, c: {},
                                description="no params model")
    """)
    )
    with pytest.raises(CapabilityDefinitionError) as caught:
        capability_names()
    assert caught.value.message.startswith(
        "capabilities/broken.py: Capability.params_model: Field required"
    )
    from aios.capabilities import _REGISTRY

    assert "crm.broken" not in _REGISTRY  # all or nothing: nothing of the user's registered


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            'actions=("s3:*",), resources=("arn:aws:s3:::b/*",), reason="r"',
            "wildcard actions are not allowed",
        ),
        ('actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",)', "needs a reason"),
        (
            'actions=("s3:GetObject",), resources=("arn:${Foo}:s3:::b",)',
            "unknown placeholder ${Foo}",
        ),
    ],
)
def test_iam_statements_are_narrow(user_root: Path, statement: str, message: str) -> None:
    from aios.capabilities import capability_names
    from aios.errors import CapabilityDefinitionError

    (user_root / "capabilities" / "wide.py").write_text(
        CAPABILITY_OK.replace(
            'IamStatement(actions=("dynamodb:PutItem",),', f"IamStatement({statement}),"
        ).replace(
            'resources=("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/store",)),),',
            "),",
        )
    )
    with pytest.raises(CapabilityDefinitionError) as caught:
        capability_names()
    assert "capabilities/wide.py: IamStatement." in caught.value.message
    assert message in caught.value.message


def test_validate_reports_every_problem_with_its_file(user_root: Path) -> None:
    from aios.catalog import validate_workspace

    good = copy_process(user_root, "refund-request")
    bad = copy_process(user_root, "ticket-triage")
    edit_json(good / "examples" / "small-refund.json", input={"order_id": "O-1"})
    (bad / "prompts" / "ticket-triage.plan.v1.txt").write_text("no separator here")
    (bad / "prompts" / "Bad Name.txt").write_text("x\n---\ny")
    catalog = validate_workspace()
    found = {(p.file, p.field) for p in catalog.problems}
    assert ("processes/refund-request/examples/small-refund.json", "input.customer_email") in found
    assert ("processes/ticket-triage/process.json", "decision.prompts") in found
    assert ("processes/ticket-triage/prompts/Bad Name.txt", "<file>") in found
    assert not catalog.ok
    assert catalog.examples["refund-request"] == 4


def test_a_process_folder_must_be_named_after_its_spec(user_root: Path) -> None:
    from aios.errors import SpecError
    from aios.specs import load_specs

    folder = copy_process(user_root, "refund-request")
    folder.rename(folder.with_name("refunds"))
    with pytest.raises(
        SpecError, match=r"processes/refunds/process\.json: name: .refund-request. differs"
    ):
        load_specs()


def test_an_unreadable_spec_file_names_the_file(user_root: Path) -> None:
    from aios.errors import SpecError
    from aios.specs import load_specs

    folder = user_root / "processes" / "broken"
    folder.mkdir()
    (folder / "process.json").write_text(json.dumps({"name": "broken"})[:-1])
    with pytest.raises(SpecError, match=r"processes/broken/process\.json: not valid JSON"):
        load_specs()
