"""Model providers: one interface, a rendered prompt in and JSON text out.

Whatever a provider returns is parsed and validated by the decision plane exactly as a real
model's output is: a provider can only ever propose. Providers raise `ModelThrottled` or
`ModelTimeout` when another model of the tier's fallback chain may answer, and
`ProviderError` when no retry will help.

- `bedrock`: Amazon Bedrock Converse, structured output through a forced tool call;
- `openai`: an OpenAI-compatible chat-completions endpoint (self-hosted models), JSON schema
  response format, URL from config and key from Secrets Manager;
- `offline`: a deterministic rule-based stand-in for the local emulation and tests.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["classify", "plan"]
"""The kit's own tasks; a process pipeline (`aios.pipelines`) names its own (`translate`)."""
TASK_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
PROVIDERS = ("offline", "bedrock", "openai")


class ModelRequest(BaseModel):
    """One model call: the task, the model, the rendered prompt and the expected output schema.

    `input` and `context` are the structured data the prompt was rendered from; a real model
    sees only `system`, `process_context` and `prompt`, the offline stand-in reads the
    structured data. `system` and `process_context` are static for a process and task (the
    providers put them first, so the provider's prompt cache can serve them); everything about
    the case is in `prompt`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(pattern=TASK_PATTERN)
    process: str
    input: dict[str, Any]
    capabilities: list[str]
    context: dict[str, Any] = {}
    model_id: str = ""
    system: str = ""
    process_context: str = ""
    prompt: str = ""
    output_schema: dict[str, Any] = {}
    max_tokens: int = Field(default=1024, ge=1, le=32_000)


class ModelResponse(BaseModel):
    """A model's answer and its usage. `input_tokens` are the input tokens billed at the plain
    input rate; prompt-cache reads and writes are counted apart (priced at their own rates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    model_id: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)


class ModelProvider(Protocol):
    def complete(self, request: ModelRequest) -> ModelResponse: ...


def get_provider(name: str, **options: Any) -> ModelProvider:
    """The provider named by config; options are its settings (client, URL, secret)."""
    if name == "offline":
        from aios.providers.offline import OfflineProvider

        return OfflineProvider()
    if name == "bedrock":
        from aios.providers.bedrock import BedrockProvider

        return BedrockProvider(**options)
    if name == "openai":
        from aios.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(**options)
    raise ValueError(f"unknown model provider {name!r}; expected one of {', '.join(PROVIDERS)}")
