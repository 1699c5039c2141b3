"""Connector secrets, read per capability from Secrets Manager and cached briefly.

Values never reach a log line or an exception message: callers get the value, errors name
only the secret and the key that was missing.
"""

from __future__ import annotations

from typing import Any

from aios.errors import TerminalActionError

MAX_AGE_SECONDS = 300


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
