"""Validated model answers cached in the decision store, scoped per tenant, expiring by TTL.

The key is the SHA-256 of the canonical encoding of (provider, model, prompt version, task,
normalized input) under the tenant's prefix, so a cached answer is never shared across tenants,
and a new model, prompt version or provider never reuses an old one. Classification keys
survive trivial rewording (`reworded`): case, spacing, punctuation and identifiers do not
change them, while words and quantities that carry meaning (amounts, counts, negations) do. Only answers that passed
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
_URL = re.compile(r"\b(?:https?://|www\.)\S+")
_EMAIL = re.compile(r"[^\s@<>()\[\]]+@[^\s@<>()\[\]]+\.[a-z]{2,}")
_NUM = r"\d+(?:[.,]\d+)*"
_CURRENCY = r"(?:[$€£¥]|eur|euros?|usd|dollars?|gbp|pounds?|chf|jpy|yen)"
_CURRENCIES = {
    **dict.fromkeys(("€", "eur", "euro", "euros"), "eur"),
    **dict.fromkeys(("$", "usd", "dollar", "dollars"), "usd"),
    **dict.fromkeys(("£", "gbp", "pound", "pounds"), "gbp"),
    **dict.fromkeys(("¥", "jpy", "yen"), "jpy"),
    "chf": "chf",
}
# An amount with its currency, either way round: "110 EUR", "EUR 110", "€110", "$ 1,500.00".
_MONEY = re.compile(
    rf"(?:(?P<pre>[$€£¥]|\b(?:eur|usd|gbp|chf|jpy)(?=\s?\d))\s?(?P<a>{_NUM})"
    rf"|(?P<b>{_NUM})\s?(?P<post>{_CURRENCY})(?![a-z]))"
)
# A token with a digit: identifiers are masked, small numbers and decimals are kept.
_TOKEN = re.compile(r"[\w#/-]*\d[\w#/-]*")
_PUNCT = re.compile(r"[^\w\s\x00\x01]")


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


def reworded(value: Any) -> Any:
    """The classification cache's view of an input: every string as `reworded_text`."""
    if isinstance(value, str):
        return reworded_text(value)
    if isinstance(value, dict):
        return {str(k): reworded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reworded(v) for v in value]
    return value


def reworded_text(text: str) -> str:
    """`text` with trivial differences erased, for the classification cache key.

    Erased: Unicode form (NFKC), case, spacing, punctuation, and identifiers: URLs, email
    addresses, and tokens that look like ids (four digits or more, or letters and three digits
    or more: "T-5003", "error 1849", "INV2024-001"). Kept, because they can change the answer:
    every word (so "not" and "never" count), amounts with their currency ("110 EUR" is not
    "4000 EUR"; "EUR 110", "110 euros" and "€110" are the same), numbers of up to three digits
    ("charged 2 times", "day 11") and decimals.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _URL.sub(" \x00url\x01 ", text)
    text = _EMAIL.sub(" \x00email\x01 ", text)
    amounts: list[str] = []

    def money(match: re.Match[str]) -> str:
        number = (match["a"] or match["b"]).replace(",", "")
        whole, _, fraction = number.partition(".")
        if not fraction.strip("0"):
            number = whole
        amounts.append(number + _CURRENCIES.get(match["pre"] or match["post"], "?"))
        return f" \x00m{len(amounts) - 1}\x01 "

    text = _MONEY.sub(money, text)
    text = _TOKEN.sub(_mask_token, text)
    text = _PUNCT.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    text = re.sub(r"\x00m(\d+)\x01", lambda m: f"<{amounts[int(m[1])]}>", text)
    return text.replace("\x00", "<").replace("\x01", ">")


def _mask_token(match: re.Match[str]) -> str:
    token = match[0]
    digits = sum(c.isdigit() for c in token)
    letters = any(c.isalpha() for c in token)
    if token.startswith("\x00") or not (digits >= 4 or (letters and digits >= 3)):
        return token
    return " \x00id\x01 "


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
