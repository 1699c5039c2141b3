"""A case's priced cost on GET /cases/{id}: the estimate from the ledger holds to what the
execution did (its state transitions, from the execution history), and it is priced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.conftest import wait_for
from tests.local.test_end_to_end import example, finished_case, submit

ROOT = Path(__file__).resolve().parents[2]


def _transitions(emulation: Any, case_id: str) -> int:
    sfn = emulation.client("stepfunctions")
    machine = next(iter(emulation.deployment.state_machines.values()))
    arn = machine.replace(":stateMachine:", ":execution:") + f":{case_id}"
    done = wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        what="execution end",
    )
    assert done
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return sum(1 for e in events if e["type"].endswith("StateEntered"))


def test_an_auto_case_shows_its_itemised_cost_and_the_transitions_it_took(
    emulation: Any,
) -> None:
    process, body = example(emulation.api_url)
    response = submit(
        emulation.api_url, process, {**body, "ticket_id": "T-4242"}, key=str(uuid.uuid4())
    )
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]
    case = finished_case(emulation.api_url, case_id)
    assert case["status"] == "SUCCEEDED" and len(case["actions"]) == 2
    cost = case["cost"]
    items = {i["item"]: i for i in cost["items"]}
    # The flow the emulation ran (memory on: Recall, Decide, Decided, AutoActions: both actions
    # in one message, LearnSuccess; SUCCEEDED is recorded on the status change) is the flow the
    # estimate counts.
    assert items["sfn_transitions"]["quantity"] == _transitions(emulation, case_id) == 5
    assert items["kms_asymmetric"]["quantity"] == 2  # the plan and its policy attestation
    assert cost["path"] == "auto" and cost["region"] == "us-east-1"
    assert cost["infrastructure_usd"] == pytest.approx(sum(
        i["usd"] for i in cost["items"] if i["item"] != "model"), abs=1e-7)  # fmt: skip
    assert cost["model_usd"] == pytest.approx(case["usage"]["cost_usd"])
    assert cost["usd"] == pytest.approx(cost["infrastructure_usd"] + cost["model_usd"], abs=1e-7)
    assert items["sfn_transitions"]["usd"] == pytest.approx(5 * 0.000025)
    spec = requests.get(f"{emulation.api_url}/openapi.json", timeout=10).json()
    assert "cost" in spec["paths"]["/cases/{case_id}"]["get"]["description"]


def test_aios_cost_prices_the_windows_cases_per_process_and_path(emulation: Any) -> None:
    process, body = example(emulation.api_url)
    response = submit(
        emulation.api_url, process, {**body, "ticket_id": "T-4343"}, key=str(uuid.uuid4())
    )
    assert finished_case(emulation.api_url, response.json()["case_id"])["status"] == "SUCCEEDED"
    machine = next(iter(emulation.deployment.state_machines.values()))
    env = {**os.environ, **emulation.cli_environment(), "AWS_REGION": emulation.region}
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", "cost", "--since", "1h", "--process", process,
         "--state-machine", machine, "--memory-steps", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    auto = next(g for g in report["groups"] if g["process"] == process and g["path"] == "auto")
    assert auto["cases"] >= 1 and report["region"] == "us-east-1"
    items = {i["item"]: i for i in auto["items"]}
    assert items["sfn_transitions"]["quantity_per_case"] >= 5  # counted from the histories
    # Plans are signed once each, and a case without actions signs none: over the window's
    # cases (the suite's other cases too) a whole number of signatures, at least this case's.
    signatures = items["kms_asymmetric"]["quantity_per_case"] * auto["cases"]
    assert signatures >= 1 and abs(signatures - round(signatures)) < 1e-3
    # Tokens go to the model that answered: locally the offline stand-in, which has no price,
    # so it is named as unpriced rather than counted.
    assert auto["unpriced_models"] == ["aios-offline-rules-v1"]
    assert auto["usd_per_1000_cases"] == auto["infrastructure_usd_per_1000_cases"] > 0
    bad = subprocess.run(
        [sys.executable, "-m", "local.cli", "cost", "--process", "no-such-process"],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert bad.returncode == 2 and "no-such-process" in bad.stderr
