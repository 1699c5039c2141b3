"""`crm.update_contact`: change fields of a contact in the CRM, over HTTPS, undoably.

The CRM's API (any system with this shape will do):

    GET   {base_url}/contacts/{contact_id}   -> {"contact_id": ..., "fields": {...}}
    PATCH {base_url}/contacts/{contact_id}   {"fields": {...}} -> the updated contact

with `Authorization: Bearer <api_key>`. The base URL is deploy-time config
(`-c capability_config='{"crm.update_contact": {"base_url": "https://..."}}'`), https only,
so a model can never point the capability at another host; the key is in the capability's own
secret (`{"api_key": "..."}`), which the stack creates and only this capability's role reads.

Every PATCH carries `Idempotency-Key` = the action id, so a CRM that honours it applies the
change once. Before changing anything the executor reads the contact (`read_state`) and keeps
the previous values in its result; the compensation writes them back.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

from aios.capabilities import ActionContext, Capability, Risk
from aios.errors import RetryableActionError, TerminalActionError
from pydantic import BaseModel, ConfigDict, Field, field_validator

FIELDS = frozenset({"email", "phone", "name", "company", "address"})
RETRYABLE = frozenset({408, 425, 429})
MAX_RESPONSE_BYTES = 64 * 1024


class CrmConfig(BaseModel):
    """`capability_config["crm.update_contact"]`."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://crm.example.com/api"
    timeout_seconds: float = Field(default=5.0, gt=0, le=20)

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
        if not (parts.scheme == "https" and parts.hostname) and not loopback:
            raise ValueError("must be an https URL (http only on loopback, for local runs)")
        return value.rstrip("/")


class ContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: str = Field(pattern=r"^C-[0-9]{1,12}$")
    fields: dict[str, str | None] = Field(min_length=1, max_length=len(FIELDS))

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(value) - FIELDS)
        if unknown:
            raise ValueError(f"unknown contact field {unknown[0]!r}; allowed: {sorted(FIELDS)}")
        if any(v is not None and (len(v) > 500 or re.search(r"[\r\n]", v)) for v in value.values()):
            raise ValueError("values are single lines of at most 500 characters")
        return value


def _call(
    ctx: ActionContext, method: str, contact_id: str, body: dict[str, Any] | None, key: str
) -> dict[str, Any]:
    config = ctx.config(CrmConfig)
    url = f"{config.base_url}/contacts/{quote(contact_id, safe='')}"
    headers = {"Authorization": f"Bearer {ctx.secret('api_key')}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":")).encode()
        headers |= {"Content-Type": "application/json", "Idempotency-Key": key}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (base URL from deploy-time config, https)
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_seconds) as resp:  # noqa: S310
            raw = resp.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        message = f"CRM answered HTTP {exc.code} to {method} {contact_id}"
        if exc.code in RETRYABLE or exc.code >= 500:
            raise RetryableActionError(message, status=exc.code) from exc
        raise TerminalActionError(message, status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableActionError(f"CRM unreachable: {exc}") from exc
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise TerminalActionError("CRM answered something that is not JSON") from exc
    return payload if isinstance(payload, dict) else {}


def read_contact(params: ContactUpdate, ctx: ActionContext) -> dict[str, Any]:
    """The contact as the CRM holds it now: {"contact_id", "fields"}."""
    contact = _call(ctx, "GET", params.contact_id, None, "")
    fields = contact.get("fields")
    return {"contact_id": params.contact_id, "fields": fields if isinstance(fields, dict) else {}}


def update_contact(params: ContactUpdate, ctx: ActionContext) -> dict[str, Any]:
    """Set the fields once per action id, keeping what they were for the compensation."""
    before = read_contact(params, ctx)["fields"]
    previous = {name: before.get(name) for name in params.fields}
    _call(ctx, "PATCH", params.contact_id, {"fields": params.fields}, ctx.action_id)
    return {"contact_id": params.contact_id, "updated": sorted(params.fields), "previous": previous}


def restore_contact(
    params: ContactUpdate, ctx: ActionContext, applied: dict[str, Any]
) -> dict[str, Any]:
    """Write back the values the fields had before the action."""
    previous = dict(applied.get("previous") or {})
    if not previous:
        return {"contact_id": params.contact_id, "restored": {}}
    _call(ctx, "PATCH", params.contact_id, {"fields": previous}, f"{ctx.action_id}.undo")
    return {"contact_id": params.contact_id, "restored": previous}


CAPABILITY = Capability(
    name="crm.update_contact",
    params_model=ContactUpdate,
    risk=Risk.MEDIUM,
    execute=update_contact,
    compensate=restore_contact,
    read_state=read_contact,
    description="Change fields of one CRM contact over HTTPS; undone by restoring the old values.",
    secrets=("api_key",),
    config_model=CrmConfig,
)
