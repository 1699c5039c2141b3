"""Amazon Bedrock through the Converse API, with structured output by a forced tool call.

The expected output's JSON schema becomes the input schema of one tool (`submit_<task>`) and
`toolChoice` forces the model to call it, so the answer arrives as the tool's JSON input. The
provider returns that JSON as text: the decision plane parses and validates it like any other
model output, so a malformed tool result is caught there and repaired once, never trusted.

Prompt caching: the system prompt (instructions, the process's capability catalogue, the output
schema) and the process context (the process's rules, for planning) are static for a process
and task; for models that support it, a `cachePoint` block follows them (the tool definition
comes before them in the prefix). Case data stays after it, in the user message. Bedrock
caches the prefix once it reaches the model's minimum (1,024 tokens for Claude Sonnet 4.5,
4,096 for Claude Haiku 4.5, 1,000 for Nova) and reports `cacheReadInputTokens` and
`cacheWriteInputTokens` apart from `inputTokens`; below the minimum the checkpoint is ignored
and nothing changes. Models without prompt caching get no checkpoint (Converse rejects it).
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from aios.errors import ModelThrottled, ModelTimeout, ProviderError
from aios.providers import ModelRequest, ModelResponse

# Bedrock error codes after which another model (or a later attempt) may succeed.
THROTTLED = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "InternalServerException",
        "TooManyRequestsException",
    }
)
TIMED_OUT = frozenset({"ModelTimeoutException"})

# Models (by id, after any inference-profile prefix such as `us.` or `global.`) whose Converse
# requests accept a cache checkpoint in `system`.
PROMPT_CACHE_MODELS = re.compile(
    r"^(anthropic\.claude-(3-7-sonnet|3-5-haiku|(haiku|sonnet|opus)-4)"
    r"|amazon\.nova-(micro|lite|pro|premier))"
)
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.")


def supports_prompt_cache(model_id: str) -> bool:
    """Whether Bedrock prompt caching (a `cachePoint` block) is available for `model_id`, an
    inference-profile id, a foundation-model id or either's ARN."""
    name = model_id.rsplit("/", 1)[-1]
    return bool(PROMPT_CACHE_MODELS.match(_PROFILE_PREFIX.sub("", name)))


def tool_name(request: ModelRequest) -> str:
    return f"submit_{request.task}"


def converse_request(request: ModelRequest, *, prompt_cache: bool = True) -> dict[str, Any]:
    """The Converse parameters for one request (public so tests can assert the exact shape);
    with `prompt_cache`, a cache checkpoint after the system prompt where the model has one."""
    name = tool_name(request)
    params: dict[str, Any] = {
        "modelId": request.model_id,
        "messages": [{"role": "user", "content": [{"text": request.prompt}]}],
        "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": 0.0},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": name,
                        "description": f"Submit the {request.task} result for the case.",
                        "inputSchema": {"json": request.output_schema or {"type": "object"}},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": name}},
        },
    }
    system: list[dict[str, Any]] = [
        {"text": text} for text in (request.system, request.process_context) if text
    ]
    if system:
        if prompt_cache and supports_prompt_cache(request.model_id):
            system.append({"cachePoint": {"type": "default"}})
        params["system"] = system
    return params


class BedrockProvider:
    """Calls `bedrock-runtime:Converse`; needs `bedrock:InvokeModel` on the configured models."""

    def __init__(self, client: Any = None, prompt_cache: bool = True) -> None:
        if client is None:
            from aios import aws

            client = aws.client("bedrock-runtime")
        self._client = client
        self._prompt_cache = prompt_cache

    def complete(self, request: ModelRequest) -> ModelResponse:
        if not request.model_id:
            raise ProviderError("bedrock: no model id for the request")
        try:
            params = converse_request(request, prompt_cache=self._prompt_cache)
            response = self._client.converse(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in THROTTLED:
                raise ModelThrottled(
                    f"bedrock {request.model_id}: {code}", model_id=request.model_id
                ) from exc
            if code in TIMED_OUT:
                raise ModelTimeout(
                    f"bedrock {request.model_id}: {code}", model_id=request.model_id
                ) from exc
            raise ProviderError(
                f"bedrock {request.model_id}: {code}", model_id=request.model_id
            ) from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ModelTimeout(
                f"bedrock {request.model_id}: {exc}", model_id=request.model_id
            ) from exc
        except BotoCoreError as exc:
            raise ProviderError(
                f"bedrock {request.model_id}: {exc}", model_id=request.model_id
            ) from exc
        usage = response.get("usage", {})
        return ModelResponse(
            text=_answer_text(response, tool_name(request)),
            model_id=request.model_id,
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            cache_read_tokens=int(usage.get("cacheReadInputTokens", 0)),
            cache_write_tokens=int(usage.get("cacheWriteInputTokens", 0)),
        )


def _answer_text(response: dict[str, Any], name: str) -> str:
    """The forced tool call's input as JSON text; else whatever text the model wrote.

    Text instead of a tool call (or a tool input that is not an object) is passed on as is:
    parsing rejects it with a clear error, which is what the repair attempt carries.
    """
    content = response.get("output", {}).get("message", {}).get("content", [])
    texts: list[str] = []
    for block in content:
        use = block.get("toolUse")
        if use and use.get("name") == name:
            return json.dumps(use.get("input"))
        if "text" in block:
            texts.append(block["text"])
    return "\n".join(texts)
