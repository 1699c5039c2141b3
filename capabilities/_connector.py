"""What the customer-operations connectors share: an https JSON API with a bearer key.

Not a capability itself (modules named `_*` are skipped by discovery). Every write carries
`Idempotency-Key` (the action id), so a system that honours it applies a retried call once:
the connector's answer to "the call timed out after the system stored it" is to send the same
request again with the same key, and the system answers what it stored the first time.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

from aios.capabilities import ActionContext
from aios.errors import RetryableActionError, TerminalActionError
from pydantic import BaseModel, ConfigDict, Field, field_validator

RETRYABLE = frozenset({408, 409, 425, 429})
MAX_RESPONSE_BYTES = 64 * 1024


class ConnectorConfig(BaseModel):
    """`capability_config["<capability>"]`: where the system is and how long to wait for it."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    timeout_seconds: float = Field(default=5.0, gt=0, le=20)

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
        if not (parts.scheme == "https" and parts.hostname) and not loopback:
            raise ValueError("must be an https URL (http only on loopback, for local runs)")
        return value.rstrip("/")


def segment(value: str) -> str:
    return quote(value, safe="")


def call(
    ctx: ActionContext,
    config_model: type[ConnectorConfig],
    system: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    key: str = "",
) -> dict[str, Any]:
    """One request to the system; retryable (timeouts, 5xx, 408/409/425/429) or terminal errors."""
    config = ctx.config(config_model)
    headers = {"Authorization": f"Bearer {ctx.secret('api_key')}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        headers |= {"Content-Type": "application/json", "Idempotency-Key": key or ctx.action_id}
    request = urllib.request.Request(  # noqa: S310 (base URL from deploy-time config, https)
        f"{config.base_url}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_seconds) as resp:  # noqa: S310
            raw = resp.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode("utf-8", "replace")
        message = f"{system} answered HTTP {exc.code} to {method} {path}: {detail}"[:1000]
        if exc.code in RETRYABLE or exc.code >= 500:
            raise RetryableActionError(message, status=exc.code) from exc
        raise TerminalActionError(message, status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableActionError(f"{system} unreachable or too slow: {exc}") from exc
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise TerminalActionError(f"{system} answered something that is not JSON") from exc
    return payload if isinstance(payload, dict) else {}
