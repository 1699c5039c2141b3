"""`http.post`: a JSON webhook to a configured, allow-listed target.

The request carries `Idempotency-Key` = action id, so a receiver that honours it applies the
action once even if the kit ever had to send it twice, and the action's causal ids as
`X-Aios-*` headers (`Case-Id`, `Tenant`, `Process`, `Plan-Id`, `Action-Id`, `Step`, `Model-Id`,
`Prompt-Version`), so the receiver can trace a request back to the decision that proposed it.
The body is signed: `X-Aios-Signature: v1=<hex HMAC-SHA256 over "v1:<timestamp>:<body>">`
with the target's key from Secrets Manager, and `X-Aios-Timestamp`, so the receiver can refuse
forged or stale requests. Outcomes are classified by status: timeouts, connection errors, 408,
425, 429 and 5xx are retryable; any other non-2xx is terminal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aios.capabilities import ActionContext, Capability, Risk
from aios.errors import HostNotAllowed, RetryableActionError, TerminalActionError
from aios.secrets import connector_secret
from aios.settings import Settings

RETRYABLE_STATUSES = frozenset({408, 425, 429})
MAX_RESPONSE_BYTES = 64 * 1024


class HttpPostParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    path: str = Field(min_length=1, max_length=512)
    body: dict[str, Any]

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        parts = urlsplit(value)
        if not value.startswith("/") or value.startswith("//") or parts.scheme or parts.netloc:
            raise ValueError("must be an absolute path on the target, like /tickets/T-1")
        if ".." in value.split("/"):
            raise ValueError("must not contain '..' segments")
        return value


def sign_body(key: str, timestamp: str, body: bytes) -> str:
    """The signature a receiver recomputes: HMAC-SHA256 over b"v1:" + timestamp + b":" + body."""
    mac = hmac.new(key.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def causal_headers(ctx: ActionContext) -> dict[str, str]:
    """`X-Aios-Case-Id`, `X-Aios-Model-Id`, ... for each causal id the action carries."""
    return {
        "X-Aios-" + "-".join(p.capitalize() for p in name.split("_")): value
        for name, value in ctx.causal_ids().items()
    }


def authorize(params: HttpPostParams, settings: Settings) -> None:
    """Only targets named in deploy-time config are reachable; a model cannot add a host."""
    if params.target not in settings.http_targets:
        raise HostNotAllowed(f"http target {params.target!r} is not on the allow-list")


def _target_url(params: HttpPostParams, ctx: ActionContext) -> str:
    authorize(params, ctx.settings)
    return ctx.settings.http_targets[params.target].rstrip("/") + params.path


def post(params: HttpPostParams, ctx: ActionContext) -> dict[str, Any]:
    """POST the body once per action id: the receiver sees Idempotency-Key = action id."""
    url = _target_url(params, ctx)
    body = json.dumps(params.body, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    key = connector_secret(ctx.settings.http_secret_arn, params.target)
    request = urllib.request.Request(  # noqa: S310 - the URL comes from deploy-time config only
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": ctx.action_id,
            **causal_headers(ctx),
            "X-Aios-Timestamp": timestamp,
            "X-Aios-Signature": sign_body(key, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=ctx.settings.http_timeout_seconds) as resp:  # noqa: S310
            status = resp.status
            raw = resp.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        status = exc.code
        message = f"{params.target} answered HTTP {status}"
        if status in RETRYABLE_STATUSES or status >= 500:
            raise RetryableActionError(message, status=status) from exc
        raise TerminalActionError(message, status=status) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableActionError(f"{params.target} unreachable: {exc}") from exc
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    return {"status": status, "response": payload}


CAPABILITY = Capability(
    name="http.post",
    params_model=HttpPostParams,
    risk=Risk.MEDIUM,
    execute=post,
    description="POST JSON to an allow-listed webhook target, idempotent by action id.",
    authorize=authorize,
)
