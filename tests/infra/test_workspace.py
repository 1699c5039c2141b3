"""The user's processes and capabilities in the synthesized app: bundled, validated, each
capability on its own least-privilege role; a bad workspace stops `cdk synth`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from infra_iam import actions, grants, refers_to, resources_for
from infra_synth import ROOT, Synth, nag_violations, synthesize

pytestmark = pytest.mark.slow  # synthesizes the app

STORE_CAPABILITY = """
from pydantic import BaseModel

from aios.capabilities import Capability, IamStatement


class Params(BaseModel):
    key: str


CAPABILITY = Capability(
    name="store.put_item",
    params_model=Params,
    risk="low",
    execute=lambda params, ctx: {},
    description="Put one item into the store table.",
    iam=(
        IamStatement(
            actions=("dynamodb:PutItem", "dynamodb:GetItem"),
            resources=("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/store",),
        ),
        IamStatement(
            actions=("s3:GetObject",),
            resources=("arn:${AWS::Partition}:s3:::store-exports/*",),
            reason="exports are named per day by the store; scoped to its bucket",
        ),
    ),
)
"""


def role_of(synth: Synth, name: str) -> str:
    return synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]


def layer_files(synth: Synth) -> set[str]:
    """The files of the synthesized user layer, relative to its root."""
    [(_, layer)] = [
        (k, v)
        for k, v in synth.of_type("AWS::Lambda::LayerVersion").items()
        if (v.get("Metadata") or {}).get("aios:layer") == "user"
    ]
    assets = json.loads(next(synth.outdir.glob("*.assets.json")).read_text())["files"]
    key = layer["Properties"]["Content"]["S3Key"]
    [source] = [
        a["source"]["path"]
        for a in assets.values()
        if any(d["objectKey"] == key for d in a["destinations"].values())
    ]
    folder = synth.outdir / source
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_the_user_layer_bundles_specs_prompts_and_capabilities_without_tests(synth: Synth) -> None:
    files = layer_files(synth)
    assert "python/processes/contact-update/process.json" in files  # YAML in the repo, JSON here
    assert "python/processes/ticket-triage/prompts/ticket-triage.plan.v1.txt" in files
    assert "python/processes/ticket-triage/offline.py" in files
    assert "python/capabilities/crm.py" in files
    assert not any("tests" in f or "examples" in f or "__pycache__" in f for f in files)
    user_layer = next(
        k
        for k, v in synth.of_type("AWS::Lambda::LayerVersion").items()
        if (v.get("Metadata") or {}).get("aios:layer") == "user"
    )
    for logical_id, function in synth.of_type("AWS::Lambda::Function").items():
        if "aios:function" in (function.get("Metadata") or {}):
            assert {"Ref": user_layer} in function["Properties"]["Layers"], logical_id


def test_the_custom_capability_gets_its_own_least_privilege_role_and_secret(synth: Synth) -> None:
    resources = synth.resources
    [role] = [k for k, v in synth.of_type("AWS::IAM::Role").items() if "CrmUpdateContactRole" in k]
    [secret] = [k for k in synth.of_type("AWS::SecretsManager::Secret") if "CrmUpdateContact" in k]
    execute = role_of(synth, "execute")
    [trust] = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Fn::GetAtt": [execute, "Arn"]}}
    # Reading its own secret, and nothing else.
    assert actions(resources, role) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert all(refers_to(g.resource, secret) for g in grants(resources, role))
    assert json.loads(resources[secret]["Properties"]["SecretString"]) == {"api_key": ""}
    # No function reads it directly: only through the role, which only execute may assume.
    for function in ("api", "decide", "execute", "finalize"):
        assert not any(
            refers_to(g.resource, secret) for g in grants(resources, role_of(synth, function))
        )
    assert any(refers_to(t, role) for t in resources_for(resources, execute, "sts:AssumeRole"))
    env = synth.function("execute")[1]["Properties"]["Environment"]["Variables"]
    assert refers_to(env["AIOS_CAPABILITY_SECRETS"], secret)
    assert refers_to(env["AIOS_CAPABILITY_ROLES"], role)
    assert json.loads(env["AIOS_CAPABILITY_CONFIG"])["crm.update_contact"] == {
        "base_url": "https://crm.example.com/api",
        "timeout_seconds": 5.0,
    }


@pytest.fixture(scope="module")
def workspace_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app synthesized from another workspace: one process using a capability with IAM."""
    root = tmp_path_factory.mktemp("workspace")
    (root / "capabilities").mkdir()
    (root / "capabilities" / "__init__.py").write_text("")
    (root / "capabilities" / "store.py").write_text(STORE_CAPABILITY)
    shutil.copytree(
        ROOT / "processes" / "refund-request",
        root / "processes" / "refund-request",
        ignore=shutil.ignore_patterns("examples"),
    )
    spec = root / "processes" / "refund-request" / "process.json"
    spec.write_text(
        spec.read_text().replace(
            '"capabilities": ["http.post"]', '"capabilities": ["http.post", "store.put_item"]'
        )
    )
    old = os.environ.get("AIOS_USER_ROOT")
    os.environ["AIOS_USER_ROOT"] = str(root)
    try:
        return synthesize(
            tmp_path_factory.mktemp("cdk.out.workspace"),
            stack_name="AiosKitWs",
            capability_config="{}",
        )
    finally:
        if old is None:
            os.environ.pop("AIOS_USER_ROOT")
        else:
            os.environ["AIOS_USER_ROOT"] = old
        from tests.unit.workspace_fixtures import forget_workspace

        forget_workspace()


def test_declared_iam_statements_become_the_role_with_placeholders_resolved(
    workspace_synth: Synth,
) -> None:
    resources = workspace_synth.resources
    [role] = [k for k in workspace_synth.of_type("AWS::IAM::Role") if "StorePutItemRole" in k]
    assert actions(resources, role) == {"dynamodb:PutItem", "dynamodb:GetItem", "s3:GetObject"}
    [table] = resources_for(resources, role, "dynamodb:PutItem")
    assert table == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":dynamodb:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":table/store",
            ],
        ]
    }
    assert (
        nag_violations(workspace_synth.outdir) == []
    )  # the wildcard is acknowledged, with its reason
    files = layer_files(workspace_synth)
    assert "python/capabilities/store.py" in files and "python/capabilities/crm.py" not in files
    assert {f.split("/")[2] for f in files if f.startswith("python/processes/")} == {
        "refund-request"
    }


def _synth_app(root: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIOS_USER_ROOT": str(root),
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []}),
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_bad_spec_or_a_capability_without_params_model_stops_the_synth(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(ROOT / "processes" / "ticket-triage", root / "processes" / "ticket-triage")
    spec = root / "processes" / "ticket-triage" / "process.json"
    data = json.loads(spec.read_text())
    data["policy"]["auto_max_risk"] = "sometimes"
    spec.write_text(json.dumps(data))
    (root / "capabilities").mkdir()
    (root / "capabilities" / "__init__.py").write_text("")
    (root / "capabilities" / "crm_close.py").write_text(
        textwrap.dedent("""
        from aios.capabilities import Capability
        CAPABILITY = Capability(name="crm.close", risk="low", execute=lambda p, c: {},
                                description="forgot the params model")
    """)
    )
    proc = _synth_app(root, tmp_path / "out")
    assert proc.returncode != 0
    assert "capabilities/crm_close.py: Capability.params_model: Field required" in proc.stderr
    assert "processes/ticket-triage/process.json: policy.auto_max_risk:" in proc.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
