"""Connector secrets, read per capability from Secrets Manager and cached briefly.

Values never reach a log line or an exception message: callers get the value, errors name
only the secret and the key that was missing.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from aios.errors import RetryableActionError, TerminalActionError

if TYPE_CHECKING:
    from aios.settings import Settings

MAX_AGE_SECONDS = 300
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def connector_secret(secret_id: str, key: str) -> str:
    """The value under `key` of a JSON secret (cached for five minutes per cold start)."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    if not secret_id:
        raise TerminalActionError(f"no secret is configured for {key!r}")
    values: Any = get_secret(secret_id, transform="json", max_age=MAX_AGE_SECONDS)
    value = values.get(key) if isinstance(values, dict) else None
    if not isinstance(value, str) or not value:
        raise TerminalActionError(f"secret {secret_id.split(':')[-1]} holds no key {key!r}")
    return value


def capability_secret(capability: str, settings: Settings, action_id: str, key: str) -> str:
    """The value under `key` of a capability's own secret, read through the capability's role
    (the execute role cannot read it) and cached for five minutes per cold start."""
    from botocore.exceptions import BotoCoreError, ClientError

    from aios.capabilities import get_capability
    from aios.credentials import capability_session, role_policy

    secret_arn = settings.capability_secrets.get(capability, "")
    if not secret_arn:
        raise TerminalActionError(f"capability {capability!r} has no secret configured")
    with _cache_lock:
        cached = _cache.get(secret_arn)
    if cached is None or cached[0] < time.monotonic():
        cap = get_capability(capability)
        role_arn = settings.capability_roles.get(capability, "")
        # Narrowed to reading this one secret: the action needs nothing else to get its key.
        only_secret = role_policy(cap.model_copy(update={"iam": ()}), role_arn, secret_arn)
        session = capability_session(cap, settings, action_id, only_secret)
        try:
            raw = session.client("secretsmanager").get_secret_value(SecretId=secret_arn)
        except (ClientError, BotoCoreError) as exc:
            raise RetryableActionError(f"secret of {capability} unreadable: {exc}") from exc
        try:
            values = json.loads(raw.get("SecretString") or "{}")
        except ValueError:
            values = {}
        cached = (time.monotonic() + MAX_AGE_SECONDS, values if isinstance(values, dict) else {})
        with _cache_lock:
            _cache[secret_arn] = cached
    value = cached[1].get(key)
    if not isinstance(value, str) or not value:
        raise TerminalActionError(f"the secret of {capability} holds no key {key!r}")
    return value
