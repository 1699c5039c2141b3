"""Webhook deliveries: a process's case events POSTed, signed, to a path on an allowed target.

A delivery is the case event's JSON (the EventBridge `detail`), POSTed to the `path` of the
process's `webhook.target`, which must be one of the deploy-time `http_targets`. Headers:
`Idempotency-Key` and `X-Aios-Event-Id` (the event id: a receiver deduplicates on it),
`X-Aios-Event-Type`, `X-Aios-Timestamp` and `X-Aios-Signature: v1=<hex HMAC-SHA256 over
"v1:<timestamp>:<body>">` with the target's key, the same scheme as `http.post`.

Outcomes: 2xx delivered; timeouts, connection errors, 408, 425, 429 and 5xx are retryable (the
queue redelivers with backoff, then dead-letters); any other status, an unknown process or a
target not on the allow-list can never succeed (the handler dead-letters it at once).
`aios webhooks replay` moves dead-lettered deliveries back to the queue.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from pydantic import ValidationError

from aios.capabilities.http_post import MAX_RESPONSE_BYTES, RETRYABLE_STATUSES, sign_body
from aios.errors import ProcessNotFound, RetryableActionError, TerminalActionError
from aios.events.envelope import CaseEvent
from aios.secrets import connector_secret
from aios.settings import Settings
from aios.specs import get_spec


def parse_delivery(body: str) -> CaseEvent:
    """The case event of a queued delivery (an EventBridge event); TerminalActionError if the
    message is not one."""
    try:
        message = json.loads(body)
        return CaseEvent.model_validate(message.get("detail", message))
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise TerminalActionError(f"not a case event: {str(exc)[:300]}") from None


def deliver(event: CaseEvent, settings: Settings, now: float | None = None) -> dict[str, Any]:
    """POST the event to its process's webhook once; returns {status, url}.

    Raises RetryableActionError (try again later) or TerminalActionError (never succeeds).
    """
    try:
        webhook = get_spec(event.process).webhook
    except ProcessNotFound:
        webhook = None
    if webhook is None or event.type not in webhook.events:
        raise TerminalActionError(f"process {event.process!r} has no webhook for {event.type}")
    base = settings.http_targets.get(webhook.target)
    if base is None:
        raise TerminalActionError(f"webhook target {webhook.target!r} is not an http target")
    url = base.rstrip("/") + webhook.path
    body = json.dumps(event.model_dump(mode="json"), separators=(",", ":")).encode()
    timestamp = str(int(time.time() if now is None else now))
    key = connector_secret(settings.http_secret_arn, webhook.target)
    request = urllib.request.Request(  # noqa: S310 - the base URL comes from deploy-time config
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": event.id,
            "X-Aios-Event-Id": event.id,
            "X-Aios-Event-Type": event.type,
            "X-Aios-Timestamp": timestamp,
            "X-Aios-Signature": sign_body(key, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.http_timeout_seconds) as resp:  # noqa: S310
            resp.read(MAX_RESPONSE_BYTES)
            status = resp.status
    except urllib.error.HTTPError as exc:
        message = f"webhook {webhook.target} answered HTTP {exc.code}"
        if exc.code in RETRYABLE_STATUSES or exc.code >= 500:
            raise RetryableActionError(message, status=exc.code) from exc
        raise TerminalActionError(message, status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableActionError(f"webhook {webhook.target} unreachable: {exc}") from exc
    return {"status": status, "url": url}
