"""Trust boundary of the approvals functions, on the synthesized template."""

from __future__ import annotations

import pytest
from infra_iam import actions, refers_to, resources_for
from infra_synth import Synth

pytestmark = pytest.mark.slow


def role_of(synth: Synth, name: str) -> str:
    return str(synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


@pytest.mark.parametrize("name", ["approval_request", "approvals", "approval_reminders"])
def test_approval_roles_may_never_sign_plans_execute_or_invoke_models(
    synth: Synth, name: str
) -> None:
    role = role_of(synth, name)
    granted = actions(synth.resources, role)
    kms = {a for a in granted if a.startswith("kms:")}
    # Only the answering function signs: human attestations, with the human key alone.
    assert kms == ({"kms:Sign"} if name == "approvals" else set()), granted
    if kms:
        human = next(k for k in synth.of_type("AWS::KMS::Key") if "HumanKey" in k)
        [key] = resources_for(synth.resources, role, "kms:Sign")
        assert refers_to(key, human)
    assert not any(a.startswith(("sqs:", "bedrock:", "lambda:")) for a in granted), granted
    assert not any("*" in a for a in granted), granted


def test_only_the_answering_function_completes_case_machine_tasks(synth: Synth) -> None:
    machine_id = next(iter(synth.of_type("AWS::StepFunctions::StateMachine")))
    answer = role_of(synth, "approvals")
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure"):
        [resource] = resources_for(synth.resources, answer, action)
        assert refers_to(resource, machine_id)
    request = actions(synth.resources, role_of(synth, "approval_request"))
    assert not any(a.startswith("states:") for a in request)
    assert "ses:SendEmail" in request


@pytest.mark.parametrize("name", ["approval_request", "approval_reminders"])
def test_notifying_functions_email_only_from_the_configured_sender(synth: Synth, name: str) -> None:
    from infra_iam import role_statements

    [statement] = [
        s
        for s in role_statements(synth.resources, role_of(synth, name))
        if "ses:SendEmail" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "approvals@example.com"}}


def _reminder_rule(synth: Synth) -> tuple[str, str, dict]:
    function_id, _ = synth.function("approval_reminders")
    [(rule_id, rule)] = [
        (k, v) for k, v in synth.of_type("AWS::Events::Rule").items()
        if any(refers_to(t["Arn"], function_id) for t in v["Properties"]["Targets"])
    ]  # fmt: skip
    return function_id, rule_id, rule


def test_reminders_run_on_the_context_rate_and_cannot_answer_tasks(
    synth: Synth, synth_variant: Synth
) -> None:
    function_id, rule_id, rule = _reminder_rule(synth)
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"  # cdk.json default
    assert _reminder_rule(synth_variant)[2]["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["State"] == "ENABLED"
    [permission] = [
        p for p in synth.of_type("AWS::Lambda::Permission").values()
        if refers_to(p["Properties"]["FunctionName"], function_id)
    ]  # fmt: skip
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert refers_to(permission["Properties"]["SourceArn"], rule_id)
    granted = actions(synth.resources, role_of(synth, "approval_reminders"))
    assert not any(a.startswith("states:") for a in granted)
