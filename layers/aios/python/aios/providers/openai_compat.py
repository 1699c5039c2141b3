"""An OpenAI-compatible chat-completions endpoint, for self-hosted models (vLLM, TGI, Ollama...).

The base URL comes from deploy-time config; the API key from a Secrets Manager secret (JSON,
key `api_key`), read through Powertools and cached for five minutes. Structured output is asked
for with `response_format: json_schema`; the answer is passed on as text and parsed and
validated by the decision plane like any other model output.

Prompt caching is automatic on such endpoints (OpenAI for prompts of 1,024 tokens and more,
vLLM's prefix caching): the static part, the system message (instructions, the process's
capability catalogue, the schema, then the process context), comes first, and `prompt_cache_key` names it (process and
task) so requests sharing it are routed to the same cache. The cached part is reported as
`usage.prompt_tokens_details.cached_tokens`, inside `prompt_tokens`; it is priced at the
model's cache-read rate and the rest at the input rate.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3

from aios.errors import ModelThrottled, ModelTimeout, ProviderError
from aios.providers import ModelRequest, ModelResponse

SECRET_MAX_AGE_SECONDS = 300
# Statuses after which another model (or a later attempt) may succeed.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def chat_request(request: ModelRequest) -> dict[str, Any]:
    """The chat-completions body for one request."""
    messages = [{"role": "user", "content": request.prompt}]
    system = "\n\n".join(text for text in (request.system, request.process_context) if text)
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return {
        "model": request.model_id,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": 0,
        "prompt_cache_key": f"aios:{request.process}:{request.task}",
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": f"{request.task}_result",
                "schema": request.output_schema or {"type": "object"},
            },
        },
    }


class OpenAICompatProvider:
    """POSTs to `<base_url>/chat/completions` with a bearer key from Secrets Manager."""

    def __init__(
        self,
        base_url: str,
        secret_arn: str = "",
        timeout_seconds: float = 20.0,
        api_key: str | None = None,
    ) -> None:
        if not base_url:
            raise ProviderError("openai provider: no base URL configured")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._secret_arn = secret_arn
        self._api_key = api_key
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=timeout_seconds), retries=False
        )

    def _key(self) -> str:
        if self._api_key is not None:
            return self._api_key
        from aws_lambda_powertools.utilities.parameters import get_secret

        if not self._secret_arn:
            raise ProviderError("openai provider: no API key secret configured")
        value: Any = get_secret(self._secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
        key = value.get("api_key") if isinstance(value, dict) else None
        if not isinstance(key, str) or not key:
            raise ProviderError("openai provider: the secret holds no 'api_key'")
        return key

    def complete(self, request: ModelRequest) -> ModelResponse:
        body = json.dumps(chat_request(request)).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._key()}"}
        try:
            response = self._http.request("POST", self._url, body=body, headers=headers)
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise ModelTimeout(f"openai {request.model_id}: {type(exc).__name__}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise ModelThrottled(f"openai {request.model_id}: {type(exc).__name__}") from exc
        if response.status in RETRYABLE_STATUS:
            raise ModelThrottled(f"openai {request.model_id}: HTTP {response.status}")
        if response.status != 200:
            raise ProviderError(f"openai {request.model_id}: HTTP {response.status}")
        try:
            data = json.loads(response.data)
            text = data["choices"][0]["message"]["content"] or ""
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            cached = max(0, min(cached, prompt_tokens))
            output_tokens = int(usage.get("completion_tokens", 0))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(f"openai {request.model_id}: malformed response") from exc
        return ModelResponse(
            text=text,
            model_id=request.model_id,
            input_tokens=prompt_tokens - cached,
            output_tokens=output_tokens,
            cache_read_tokens=cached,
        )
