"""Validated model answers cached in the decision store, scoped per tenant, expiring by TTL.

The key is the SHA-256 of the canonical encoding of (provider, model, prompt version, task,
normalized input) under the tenant's prefix, so a cached answer is never shared across tenants,
and a new model, prompt version or provider never reuses an old one. Only answers that passed
parsing and validation are stored. Reads check the expiry themselves (DynamoDB's TTL deletes
lazily).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from aios.ledger.decision_store import get_cached, put_cached
from aios.providers import ModelResponse
from aios.signing import digest

_SPACE = re.compile(r"\s+")


def normalize(value: Any, *, fold: bool) -> Any:
    """Unicode NFC everywhere; with `fold`, strings are also case-folded and their whitespace
    collapsed (near repeats hit the cache). Without `fold` only the encoding is normalized,
    for outputs that copy input text verbatim."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value)
        return _SPACE.sub(" ", text).strip().casefold() if fold else text
    if isinstance(value, dict):
        return {str(k): normalize(v, fold=fold) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, fold=fold) for v in value]
    return value


def cache_key(
    tenant: str, provider: str, model_id: str, prompt_version: str, task: str, data: Any
) -> str:
    """`CACHE#<tenant>#<sha256>` over the canonical (provider, model, prompt, task, input)."""
    body = {
        "provider": provider,
        "model": model_id,
        "prompt": prompt_version,
        "task": task,
        "input": data,
    }
    return f"CACHE#{tenant}#{digest(body)}"


def cached_answer(key: str, *, now: datetime | None = None) -> ModelResponse | None:
    """The stored answer under `key`, unless absent or expired."""
    cached = get_cached(key)
    if cached is None:
        return None
    if cached.expires_at is not None and cached.expires_at <= (now or datetime.now(UTC)):
        return None
    return ModelResponse.model_validate(cached.value)


def store_answer(key: str, response: ModelResponse, ttl_seconds: int) -> None:
    """Store a validated answer for `ttl_seconds` (last writer wins: answers are equivalent)."""
    now = datetime.now(UTC)
    put_cached(
        key,
        response.model_dump(mode="json"),
        created_at=now.isoformat(timespec="milliseconds"),
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
