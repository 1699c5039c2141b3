"""cdk-nag AwsSolutions and cfn-lint have nothing left to say about the synthesized app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint, lint_file
from infra_synth import Synth, nag_violations

pytestmark = pytest.mark.slow  # uses the synthesized app

# CDK adds DependsOn on roles that a GetAtt already implies; harmless and not ours to change.
ACCEPTED_CFN_LINT_WARNINGS = {"W3005"}


def test_cdk_nag_reports_no_unacknowledged_finding(synth: Synth) -> None:
    assert nag_violations(synth.outdir) == []


def test_cdk_nag_reports_no_unacknowledged_finding_with_api_keys(synth_variant: Synth) -> None:
    assert nag_violations(synth_variant.outdir) == []


def test_nag_violations_sees_an_unacknowledged_finding(tmp_path: Path) -> None:
    """Guards the two tests above: a queue without TLS enforcement or DLQ must be reported."""
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Canary")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    rules = {violation["ruleName"] for violation in nag_violations(tmp_path)}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def _cfn_lint(template: Path) -> list[tuple[str, str, str]]:
    """(level, rule id, message) of every cfn-lint finding."""
    matches = lint_file(template, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    return [(m.rule.severity, m.rule.id, f"{m.rule.id} {m.message}") for m in matches]


def _cfn_lint_text(template: str) -> list[tuple[str, str, str]]:
    matches = lint(template, regions=["us-east-1"])
    return [(m.rule.severity, m.rule.id, f"{m.rule.id} {m.message}") for m in matches]


def test_cfn_lint_reports_no_error_and_no_unexpected_warning(synth: Synth) -> None:
    findings = _cfn_lint(synth.template_path)
    assert [f for f in findings if f[0] == "error"] == []
    assert [
        f for f in findings if f[0] == "warning" and f[1] not in ACCEPTED_CFN_LINT_WARNINGS
    ] == []


def test_cfn_lint_reports_no_error_with_api_keys(synth_variant: Synth) -> None:
    findings = _cfn_lint(synth_variant.template_path)
    assert [f for f in findings if f[0] == "error"] == []


def test_cfn_lint_sees_an_error() -> None:
    """Guards the tests above: a template with a wrong property type must be reported."""
    bad = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": "maybe"}}}}
    findings = _cfn_lint_text(json.dumps(bad))
    assert [f for f in findings if f[0] == "error"]
