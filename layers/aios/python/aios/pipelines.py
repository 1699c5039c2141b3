"""Process pipelines: a process's own decision steps in place of the single plan call.

A process folder may hold `pipeline.py` with a function `plan(case, steps) -> dict` answering
what a planning model would (`{"summary", "actions"}`). Decide runs it after classification
instead of asking the plan prompt, and its answer goes through the same door as a model's:
parsed strictly as a `ModelPlan`, every action an allowed capability with valid params, the
constraints checked, the gates from the policy, one signature. A pipeline is for work that is
more than one model call — an ensemble and a judge per language, a check by code and one
repair — and it reaches models and records only through `Steps`:

- `steps.ask(task, data, ...)`: one model call for the pipeline's own task (`translate`,
  `judge`), prompt `processes/<process>/prompts/<process>.<task>.v<N>.txt`, through
  `aios.tiering` (output cache, budget, fallback chain); its usage is recorded per task
  (`usage.by_step`) with the decision's. The offline provider answers with the rules'
  function of the task's name.
- `steps.reused(task, n)`: count answers the pipeline took from its own records instead of
  asking (`by_step[task].reused`).
- `steps.memory(namespace)`: the canonical memory records of the case's tenant in a
  namespace (the truth behind vector memory), e.g. a terminology glossary.
- `steps.entity(key)`: an entity's canonical state in the ledger (tenant-scoped), or None.

A pipeline raises `NeedsPerson(detail)` when its own check still fails after its repair: the
case is handed off (`CHECK_FAILED`). Anything else it raises fails the decision like a bug.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from aios.errors import AiosError, InvalidPlan
from aios.model_cache import normalize
from aios.providers import ModelRequest
from aios.specs import ProcessSpec
from aios.tiering import ModelConfig, Usage, call_model, remember

PIPELINE_FILE = "pipeline.py"
MEMORY_LIMIT = 1000


class NeedsPerson(AiosError):
    """The pipeline's own check still fails after its repair: a person decides."""

    code = "CHECK_FAILED"


@cache
def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"aios_pipeline_{path.parent.name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pipeline_for(spec: ProcessSpec) -> ModuleType | None:
    """The process's pipeline module, if its folder has one."""
    path = spec.folder / PIPELINE_FILE if spec.folder is not None else None
    return _load(path) if path is not None and path.is_file() else None


def pipeline_version(module: ModuleType) -> str:
    """`pipeline@<sha256 prefix of pipeline.py>`: recorded as the plan's prompt version."""
    raw = Path(str(module.__file__)).read_bytes()
    return f"pipeline@{hashlib.sha256(raw).hexdigest()[:12]}"


EntityState = Callable[[str], dict[str, Any] | None]
MemoryReader = Callable[[str, str], list[dict[str, Any]]]


def canonical_memory(tenant: str, namespace: str) -> list[dict[str, Any]]:
    """The namespace's canonical records from the memory table; none without a memory table."""
    from aios.memory.records import bind_memory_table, namespace_records

    table = os.environ.get("AIOS_MEMORY_TABLE", "")
    if not table:
        return []
    bind_memory_table(table)
    return [
        {"memory_id": r.memory_id, "text": r.text, "version": int(r.version)}
        for r in namespace_records(tenant, namespace, MEMORY_LIMIT)
    ]


@dataclass
class Steps:
    """What a pipeline may do; see the module docstring."""

    models: ModelConfig
    usage: Usage
    spec: ProcessSpec
    tenant: str
    case_id: str
    entity_state: EntityState
    memory_reader: MemoryReader = canonical_memory

    @property
    def process(self) -> str:
        return self.spec.name

    def ask(
        self,
        task: str,
        data: dict[str, Any],
        *,
        context: dict[str, Any] | None = None,
        prompt: str = "",
        tier: str = "",
        schema: dict[str, Any] | None = None,
        max_tokens: int = 2000,
        cache: bool = True,
    ) -> dict[str, Any]:
        """The model's JSON answer to one request of the pipeline's task `task`.

        `prompt` names the template (default `<process>.<task>.v1`); `tier` the model tier
        (default the spec's plan tier). An answer that is not a JSON object raises InvalidPlan
        (the case goes to a person as INVALID_MODEL_OUTPUT) and is never cached.
        """
        template = self.spec.template(prompt or f"{self.process}.{task}.v1")
        context = context or {}
        system, user = template.render(
            process=self.process, input=data, context=context, schema=schema or {}
        )
        request = ModelRequest(
            task=task,
            process=self.process,
            input=data,
            capabilities=[],
            context=context,
            system=system,
            prompt=user,
            output_schema=schema or {"type": "object"},
            max_tokens=max_tokens,
        )
        answer = call_model(
            self.models,
            self.usage,
            request=request,
            prompt_version=template.version,
            cache_input={"data": normalize(data, fold=False), "context": context}
            if cache
            else None,
            tenant=self.tenant,
            tier=tier or self.spec.decision.plan_tier,
            budget=self.spec.decision.budget,
        )
        try:
            out = json.loads(answer.response.text)
        except ValueError:
            out = None
        if not isinstance(out, dict):
            raise InvalidPlan(f"{task}: the model's answer is not a JSON object")
        remember(self.models, answer)
        return out

    def reused(self, task: str, n: int = 1) -> None:
        """Count `n` answers of `task` taken from the process's own records, not a model."""
        self.usage.step(task)["reused"] += n

    def memory(self, namespace: str) -> list[dict[str, Any]]:
        """The canonical memory records of the case's tenant in `namespace`."""
        return self.memory_reader(self.tenant, namespace)

    def entity(self, key: str) -> dict[str, Any] | None:
        """The canonical state of the tenant's entity `key`, or None when never written."""
        return self.entity_state(key)
