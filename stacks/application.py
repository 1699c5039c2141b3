"""Builds the CDK app: typed config from context, the stack, and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.aios_stack import AiosStack
from stacks.config import AiosConfig

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json: defaults when the app runs without the CDK CLI
    (``python app.py``, tests); the CLI's own context overrides them."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(app: App) -> AiosStack:
    """Add the AIOS stack to ``app`` and register the AwsSolutions checks on it."""
    config = AiosConfig.from_context(app.node.try_get_context)
    stack = AiosStack(
        app,
        config.stack_name,
        config=config,
        description="AIOS Kit: serverless backbone for AI-driven process automation",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
