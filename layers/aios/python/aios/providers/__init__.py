"""Model providers: one interface, text in and text out.

Whatever a provider returns is parsed and validated by the decision plane exactly as a real
model's output is: a provider can only ever propose.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

Task = Literal["classify", "plan"]


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Task
    process: str
    input: dict[str, Any]
    capabilities: list[str]
    context: dict[str, Any] = {}


class ModelResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    model_id: str
    input_tokens: int
    output_tokens: int


class ModelProvider(Protocol):
    def complete(self, request: ModelRequest) -> ModelResponse: ...


def get_provider(name: str) -> ModelProvider:
    if name == "offline":
        from aios.providers.offline import OfflineProvider

        return OfflineProvider()
    raise ValueError(f"unknown model provider {name!r}")
