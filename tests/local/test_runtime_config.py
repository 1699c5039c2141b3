"""Runtime control without a code deploy: process specs are AppConfig configuration.

`aios control deploy` ships an edited workspace as a new configuration version; new cases run
under it (their plan names the new spec version and hash) while no function was redeployed. A
bad spec is refused by AppConfig's JSON Schema validator and the deployed one keeps serving."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.local.conftest import ROOT, wait_for
from tests.local.test_end_to_end import example, finished_case, receiver_requests, submit

pytestmark = pytest.mark.slow

APPLICATION = "AiosKit-processes"


def deploy(emulation: Any, root: Path) -> subprocess.CompletedProcess[str]:
    """`aios control deploy` of the workspace at `root`, as an operator runs it."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": emulation.region,
    }
    env.pop("AIOS_USER_ROOT", None)
    command = [sys.executable, "-m", "local.cli", "control", "deploy", "--root", str(root)]
    return subprocess.run(
        [*command, "--endpoint-url", emulation.appconfig.url, "--description", "test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workspace(tmp_path: Path, emulation: Any) -> Iterator[Path]:
    """A copy of the repository's workspace to edit; the original is deployed again after."""
    for folder in ("processes", "capabilities"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    yield tmp_path
    restored = deploy(emulation, ROOT)
    assert restored.returncode == 0, restored.stderr


def _edit(root: Path, process: str, **changes: Any) -> dict[str, Any]:
    path = root / "processes" / process / "process.json"
    spec = {**json.loads(path.read_text()), **changes}
    path.write_text(json.dumps(spec))
    return spec


def _served_version(api: str, process: str) -> str:
    listing = requests.get(f"{api}/processes", timeout=10).json()["processes"]
    return str(next(p for p in listing if p["name"] == process)["version"])


def _triage(emulation: Any) -> dict[str, Any]:
    process, body = example(emulation.api_url)
    body["ticket_id"] = f"T-{uuid.uuid4().int % 10**9}"
    response = submit(emulation.api_url, process, body, key=f"rc-{uuid.uuid4()}")
    assert response.status_code == 202, response.text
    return finished_case(emulation.api_url, response.json()["case_id"])


def test_a_spec_change_deployed_at_runtime_takes_effect_for_new_cases(
    emulation: Any, workspace: Path
) -> None:
    before = _triage(emulation)
    assert before["spec"]["version"] == "1"
    policy = json.loads((ROOT / "processes/ticket-triage/process.json").read_text())["policy"]
    _edit(workspace, "ticket-triage", version="2-runtime", policy={**policy, "deny": ["http.post"]})

    shipped = deploy(emulation, workspace)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "COMPLETE" in shipped.stdout
    wait_for(
        lambda: _served_version(emulation.api_url, "ticket-triage") == "2-runtime",
        timeout=30,
        what="the api to serve the new spec",
    )

    after = _triage(emulation)
    assert after["status"] == "SUCCEEDED"
    assert after["spec"]["version"] == "2-runtime"  # the plan names the spec it ran under
    assert after["spec"]["sha256"] != before["spec"]["sha256"]
    post = next(a for a in after["actions"] if a["capability"] == "http.post")
    assert (post["gate"], post["status"]) == ("deny", "SKIPPED")  # the new policy, no redeploy
    assert receiver_requests(emulation, after["case_id"]) == []
    audit = requests.get(f"{emulation.api_url}/cases/{after['case_id']}/audit", timeout=10).json()
    [signed] = [e for e in audit["events"] if e["type"] == "plan.signed"]
    assert signed["data"]["spec"] == after["spec"]


def _deployments(emulation: Any) -> tuple[Any, str, str, list[dict[str, Any]]]:
    ac = emulation.client("appconfig")
    [app] = [a["Id"] for a in ac.list_applications()["Items"] if a["Name"] == APPLICATION]
    [env] = [e["Id"] for e in ac.list_environments(ApplicationId=app)["Items"]]
    return ac, app, env, ac.list_deployments(ApplicationId=app, EnvironmentId=env)["Items"]


def test_a_bad_spec_is_refused_by_the_validator_and_the_old_one_keeps_serving(
    emulation: Any, workspace: Path
) -> None:
    ac, app, env, deployments = _deployments(emulation)
    serving = deployments[0]
    [profile] = ac.list_configuration_profiles(ApplicationId=app)["Items"]
    [strategy] = [
        s["Id"]
        for s in ac.list_deployment_strategies()["Items"]
        if s["Name"] == f"{APPLICATION}-rollout"
    ]
    current = (
        emulation.client("appconfig")
        .get_hosted_configuration_version(
            ApplicationId=app,
            ConfigurationProfileId=profile["Id"],
            VersionNumber=int(serving["ConfigurationVersion"]),
        )["Content"]
        .read()
    )
    bad = json.loads(current)
    bad["processes"]["ticket-triage"]["spec"]["capabilities"].append("shell.exec")
    version = ac.create_hosted_configuration_version(
        ApplicationId=app,
        ConfigurationProfileId=profile["Id"],
        Content=json.dumps(bad).encode(),
        ContentType="application/json",
    )["VersionNumber"]
    with pytest.raises(ClientError) as refused:
        ac.start_deployment(
            ApplicationId=app,
            EnvironmentId=env,
            DeploymentStrategyId=strategy,
            ConfigurationProfileId=profile["Id"],
            ConfigurationVersion=str(version),
        )
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert "ticket-triage.spec.capabilities" in refused.value.response["Error"]["Message"]
    assert _deployments(emulation)[3][0] == serving  # nothing new deployed

    _edit(workspace, "ticket-triage", entity_key="ticket#{no_such_field}")
    local = deploy(emulation, workspace)  # the CLI's own check stops it before AppConfig
    assert local.returncode == 2
    assert "ticket-triage/process.json" in local.stderr and "entity_key" in local.stderr

    case = _triage(emulation)  # the deployed spec still serves
    assert case["status"] == "SUCCEEDED" and case["spec"]["version"] == "1"
    assert len(receiver_requests(emulation, case["case_id"])) == 1
