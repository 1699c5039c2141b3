"""Tenants: who a case belongs to, taken from the caller, never from a constant.

Everything a tenant owns is keyed by it: the case (and so its reads), the idempotency scope of
a submission, the daily budgets, the model-output cache, the memory records, the canonical
entity state its actions write (`scoped_entity_key`), its KPIs and its revocations.
"""

from __future__ import annotations

import re

TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCOPE_SEPARATOR = "/"


def scoped_entity_key(tenant: str, entity_key: str) -> str:
    """The ledger key of a tenant's entity: two tenants' `order#O-1` are two entities."""
    return f"{tenant}{SCOPE_SEPARATOR}{entity_key}"


def entity_tenant(scoped_key: str) -> str:
    """The tenant an entity key belongs to ('' when it names none)."""
    tenant, sep, _ = scoped_key.partition(SCOPE_SEPARATOR)
    return tenant if sep else ""
