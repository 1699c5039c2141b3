"""A deterministic, rule-based stand-in for a model, for the local emulation and tests.

It is not a model: it follows keyword rules per process, written by the process's owner in
`processes/<name>/offline.py` (a function `classify(input) -> dict` and a function
`plan(input, context) -> dict`, both answering what a model would; a process pipeline's own
tasks are answered by the function of the task's name, `translate(input, context)`). It exists so that a case
runs offline end to end, and it answers in JSON text so that its output goes through the same
parsing and validation as a real model's. A process without rules is classified `unknown` with
confidence 0 and gets an empty plan.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from aios.errors import ProviderError
from aios.providers import ModelRequest, ModelResponse

MODEL_ID = "aios-offline-rules-v1"
RULES_FILE = "offline.py"
UNKNOWN = {
    "intent": "unknown",
    "urgency": "normal",
    "language": "en",
    "risk": "low",
    "confidence": 0.0,
}


@cache
def _load_rules(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"aios_offline_rules_{path.parent.name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rules_for(process: str) -> ModuleType | None:
    """The offline rules module of the process's folder, if it has one."""
    from aios.errors import ProcessNotFound
    from aios.specs import get_spec

    try:
        folder = get_spec(process).folder
    except ProcessNotFound:
        return None
    path = folder / RULES_FILE if folder is not None else None
    return _load_rules(path) if path is not None and path.is_file() else None


class OfflineProvider:
    """Answers classify and plan requests from the process's keyword rules, as JSON text."""

    def complete(self, request: ModelRequest) -> ModelResponse:
        rules = rules_for(request.process)
        out: dict[str, Any]
        if request.task == "classify":
            out = rules.classify(request.input) if rules else dict(UNKNOWN)
        elif request.task != "plan":  # a pipeline's own task: the rules' function of that name
            answer = getattr(rules, request.task, None) if rules else None
            if answer is None:
                raise ProviderError(f"no offline rule {request.task!r} for {request.process}")
            out = answer(request.input, request.context)
        else:
            out = (
                rules.plan(request.input, request.context)
                if rules
                else {"summary": "no offline rules for this process", "actions": []}
            )
        text = json.dumps(out)
        prompt_tokens = len(json.dumps(request.input)) // 4 + 50
        return ModelResponse(
            text=text, model_id=MODEL_ID, input_tokens=prompt_tokens, output_tokens=len(text) // 4
        )
