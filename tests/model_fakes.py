"""Test doubles for model providers: scripted answers, and the offline rules behind a counter."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from aios.providers import ModelRequest, ModelResponse
from aios.providers.offline import OfflineProvider

Answer = str | dict[str, Any] | Exception | Callable[[ModelRequest], Any]


class ScriptedProvider:
    """Answers each task from its own script, in order (the last answer repeats); records calls."""

    def __init__(self, **scripts: list[Answer]) -> None:
        self.scripts = scripts
        self.requests: list[ModelRequest] = []
        self._lock = threading.Lock()

    def complete(self, request: ModelRequest) -> ModelResponse:
        with self._lock:
            self.requests.append(request)
            script = self.scripts[request.task]
            answer = script.pop(0) if len(script) > 1 else script[0]
        if callable(answer) and not isinstance(answer, Exception):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return ModelResponse(
            text=text, model_id=request.model_id or "scripted", input_tokens=100, output_tokens=20
        )

    def calls(self, task: str | None = None) -> list[ModelRequest]:
        return [r for r in self.requests if task is None or r.task == task]


class CountingOffline:
    """The offline rules, counting calls and answering as the requested model."""

    def __init__(self) -> None:
        self.inner = OfflineProvider()
        self.requests: list[ModelRequest] = []
        self._lock = threading.Lock()

    def complete(self, request: ModelRequest) -> ModelResponse:
        with self._lock:
            self.requests.append(request)
        answer = self.inner.complete(request)
        return answer.model_copy(update={"model_id": request.model_id or answer.model_id})
