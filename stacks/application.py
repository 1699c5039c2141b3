"""Builds the CDK app: typed config from context, the stack, and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.aios_stack import AiosStack
from stacks.boundary import Boundary
from stacks.config import AiosConfig, ConfigError
from stacks.execution_stack import ExecutionStack

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json: defaults when the app runs without the CDK CLI
    (``python app.py``, tests); the CLI's own context overrides them."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(app: App) -> AiosStack:
    """Add the AIOS stack to ``app`` and register the AwsSolutions checks on it.

    With ``execution_account`` or ``execution_region`` in context, the execution plane is a
    second stack (``<stack_name>-Execution``) in that place; the returned stack is the
    decision plane's and names it as ``execution_stack``.
    """
    config = AiosConfig.from_context(app.node.try_get_context)
    description = "AIOS Kit: serverless backbone for AI-driven process automation"
    if not config.split:
        stack = AiosStack(app, config.stack_name, config=config, description=description)
    else:
        boundary = boundary_of(config)
        # Environment-agnostic like the one-stack layout: deployed with the decision account's
        # credentials. The execution stack names its account and region, so `cdk deploy`
        # reaches it through that account's bootstrap roles (`cdk bootstrap --trust`).
        stack = AiosStack(
            app,
            config.stack_name,
            config=config,
            boundary=boundary,
            description=f"{description} (decision plane)",
        )
        stack.execution_stack = ExecutionStack(
            app,
            boundary.execution_stack_name,
            config=config,
            boundary=boundary,
            workspace=stack.workspace,
            user_layer_dir=stack.user_layer_dir,
            env=Environment(account=boundary.execution_account, region=boundary.execution_region),
            description=f"{description} (execution plane)",
        )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def boundary_of(config: AiosConfig) -> Boundary:
    """Where each plane of a split deployment runs: the execution plane where the context
    says, the decision plane in ``decision_account``/``decision_region`` or the CLI's own."""
    account = config.decision_account or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = config.decision_region or os.environ.get("CDK_DEFAULT_REGION")
    if not account or not region:
        raise ConfigError(
            "a split deployment (execution_account/execution_region) needs the decision "
            "plane's account and region: -c decision_account=... -c decision_region=... or "
            "credentials the CDK CLI can resolve (CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION)"
        )
    return Boundary(
        stack_name=config.stack_name,
        decision_account=account,
        decision_region=region,
        execution_account=config.execution_account or account,
        execution_region=config.execution_region or region,
    )
