"""Synthesis helpers of the infra tests: one synthesized assembly and what it says."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks.aios_stack import AiosStack  # noqa: E402
from stacks.application import build_app, cdk_json_context  # noqa: E402

# Context that makes CDK skip asset bundling (pip) for every stack: synth takes seconds.
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}


@dataclass
class Synth:
    """One synthesized cloud assembly."""

    outdir: Path
    stack: AiosStack
    template_path: Path
    template: dict[str, Any]
    execution: Synth | None = None
    """The execution plane's own stack, in the split layout."""

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def of_type(self, type_: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == type_}

    def function(self, name: str) -> tuple[str, dict[str, Any]]:
        """Logical id and resource of the function whose metadata names it ``name``."""
        found = [
            (k, v)
            for k, v in self.of_type("AWS::Lambda::Function").items()
            if v.get("Metadata", {}).get("aios:function") == name
        ]
        assert len(found) == 1, f"expected one function {name!r}, found {len(found)}"
        return found[0]


def synthesize(outdir: Path, **context: Any) -> Synth:
    """Synthesize the app into ``outdir`` with cdk.json's context plus ``context``."""
    app = App(outdir=str(outdir), context={**cdk_json_context(), **SKIP_BUNDLING, **context})
    stack = build_app(app)
    assembly = app.synth()
    synth = _loaded(outdir, assembly, stack)
    if stack.execution_stack is not None:
        synth.execution = _loaded(outdir, assembly, stack.execution_stack)
    return synth


def _loaded(outdir: Path, assembly: Any, stack: Any) -> Synth:
    artifact = assembly.get_stack_by_name(stack.stack_name)
    template_path = Path(assembly.directory) / artifact.template_file
    return Synth(outdir, stack, template_path, json.loads(template_path.read_text()))


def nag_violations(outdir: Path) -> list[dict[str, Any]]:
    """Every unacknowledged finding (any severity) in the assembly's validation report.

    cdk-nag 3 is a CDK policy-validation plugin: acknowledged findings are dropped, the rest are
    written to validation-report.json (and an error also fails synth).
    """
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        {"plugin": plugin["pluginName"], **violation}
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
