"""Tenants: who a case belongs to, taken from the caller, never from a constant.

The API says who the caller is; the tenant follows from it, by the deployment's auth mode:

- `iam` (SigV4): the caller's IAM principal carries the tag `aios:tenant` (an IAM user's tag,
  or the tag of the role a session assumed). The api function reads it with
  `iam:ListUserTags` / `iam:ListRoleTags` and caches it per principal for a few minutes.
- `api_key`: each tenant has its own API key on its own usage plan (its own throttling and
  quota); the stack hands the api function the key-to-tenant mapping of those usage plans.

A caller that maps to no tenant is refused (403 `TENANT_UNKNOWN`). Everything a tenant owns is
keyed by it: the case (so another tenant reads it as missing), the idempotency scope of a
submission, the daily budgets, the model-output cache, the memory records, the canonical
entity state its actions write (`scoped_entity_key`), its KPIs and its revocations.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict

from aios.errors import TenantUnknown

TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TENANT_TAG = "aios:tenant"
SCOPE_SEPARATOR = "/"
TAG_CACHE_SECONDS = 300.0


class Caller(BaseModel):
    """Who called the API, as API Gateway's request context names them."""

    model_config = ConfigDict(frozen=True)

    principal_arn: str | None = None
    """The IAM principal of a SigV4 request (`requestContext.identity.userArn`)."""
    api_key_id: str | None = None
    """The API key of a request under a usage plan (`requestContext.identity.apiKeyId`)."""


TagReader = Callable[[str], Mapping[str, str]]


def tenant_of(
    caller: Caller, *, api_keys: Mapping[str, str] | None, tags: TagReader | None = None
) -> str:
    """The caller's tenant; TenantUnknown when the caller maps to none.

    With `api_keys` (API key id -> tenant) the deployment authenticates by API key and only
    the key counts; otherwise the caller's IAM principal tag `aios:tenant` does.
    """
    if api_keys is not None:
        tenant = api_keys.get(caller.api_key_id or "")
        if tenant is None:
            raise TenantUnknown("the API key belongs to no tenant's usage plan")
        return tenant
    if not caller.principal_arn:
        raise TenantUnknown("the request carries no IAM principal")
    tenant = (tags or principal_tags)(caller.principal_arn).get(TENANT_TAG)
    if tenant is None or not TENANT.match(tenant):
        raise TenantUnknown(f"the caller's IAM principal has no valid {TENANT_TAG!r} tag")
    return tenant


_tag_cache: dict[str, tuple[float, dict[str, str]]] = {}


def principal_tags(arn: str) -> Mapping[str, str]:
    """The tags of an IAM user or role (the role behind an assumed-role session), cached per
    principal for `TAG_CACHE_SECONDS`; empty for a principal that cannot be read."""
    now = time.monotonic()
    cached = _tag_cache.get(arn)
    if cached is not None and now - cached[0] < TAG_CACHE_SECONDS:
        return cached[1]
    tags = _read_tags(arn)
    _tag_cache[arn] = (now, tags)
    return tags


def _read_tags(arn: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    from aios import aws

    kind, name = _principal(arn)
    if not name:
        return {}
    iam = aws.client("iam")
    try:
        if kind == "user":
            listed = iam.list_user_tags(UserName=name)["Tags"]
        else:
            listed = iam.list_role_tags(RoleName=name)["Tags"]
    except ClientError:  # another account's principal, or one deleted since: no tenant
        return {}
    return {str(t["Key"]): str(t["Value"]) for t in listed}


def _principal(arn: str) -> tuple[str, str]:
    """("user" | "role", name) of an IAM user, role or assumed-role session ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return "", ""
    resource = parts[5]
    if resource.startswith("user/"):
        return "user", resource.rsplit("/", 1)[-1]
    if resource.startswith("role/"):
        return "role", resource.rsplit("/", 1)[-1]
    if resource.startswith("assumed-role/"):
        return "role", resource.split("/")[1]
    return "", ""


def scoped_entity_key(tenant: str, entity_key: str) -> str:
    """The ledger key of a tenant's entity: two tenants' `order#O-1` are two entities."""
    return f"{tenant}{SCOPE_SEPARATOR}{entity_key}"


def entity_tenant(scoped_key: str) -> str:
    """The tenant an entity key belongs to ('' when it names none)."""
    tenant, sep, _ = scoped_key.partition(SCOPE_SEPARATOR)
    return tenant if sep else ""
