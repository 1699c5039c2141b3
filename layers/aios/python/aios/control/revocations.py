"""The kill switch: revoke a capability, a process or a tenant at runtime.

A revocation names what (`capability`, `process` or `tenant`), its name, and whom it covers:
every tenant (`*`) or one. All revocations are one ledger item, read consistently and without
a cache by Decide (before a model is called, and before a plan is signed) and by Execute
(before each action is applied), so a revocation stops new work at the next check: no deploy,
no restart, no cache to expire. Revoking and restoring are on the control audit chain
(`aios.ledger.control`), each with who did it and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aios.audit import ChainVerdict, verify_chain
from aios.errors import CapabilityRevoked
from aios.ledger.control import commit_control, load_control, load_control_audit
from aios.ledger.repository import now_iso

Kind = Literal["capability", "process", "tenant"]
KINDS: tuple[Kind, ...] = ("capability", "process", "tenant")
ALL_TENANTS = "*"
NAME = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"


class Revocation(BaseModel):
    """One revoked capability, process or tenant, for every tenant or one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    name: str = Field(pattern=NAME)
    tenant: str = Field(default=ALL_TENANTS, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")
    reason: str = Field(default="", max_length=500)
    by: str = Field(default="", max_length=200)
    at: str = ""

    @property
    def key(self) -> str:
        return revocation_key(self.kind, self.name, self.tenant)

    def describe(self) -> str:
        scope = "every tenant" if self.tenant == ALL_TENANTS else f"tenant {self.tenant}"
        if self.kind == "tenant":
            return f"tenant {self.name} is revoked"
        return f"{self.kind} {self.name} is revoked for {scope}"


def revocation_key(kind: str, name: str, tenant: str = ALL_TENANTS) -> str:
    return f"{kind}:{name}@{tenant}"


class Revocations(BaseModel):
    """Everything revoked now."""

    model_config = ConfigDict(frozen=True)

    entries: dict[str, Revocation] = Field(default_factory=dict)

    def blocking(
        self, *, tenant: str, process: str, capabilities: Iterable[str] = ()
    ) -> Revocation | None:
        """The revocation that stops this work, if any: the tenant, the process, or one of
        the capabilities, revoked for every tenant or for this one."""
        wanted = [("tenant", tenant), ("process", process)]
        wanted += [("capability", c) for c in capabilities]
        for kind, name in wanted:
            for scope in (ALL_TENANTS, tenant):
                found = self.entries.get(revocation_key(kind, name, scope))
                if found is not None:
                    return found
        return None


def current() -> Revocations:
    """What is revoked now: one consistent read of the control record."""
    entries = load_control().data.get("revocations") or {}
    return Revocations(entries={k: Revocation.model_validate(v) for k, v in entries.items()})


def check(*, tenant: str, process: str, capabilities: Iterable[str] = ()) -> None:
    """Raise CapabilityRevoked when the tenant, the process or a capability is revoked."""
    found = current().blocking(tenant=tenant, process=process, capabilities=capabilities)
    if found is not None:
        raise CapabilityRevoked(
            found.describe(),
            revoked={"kind": found.kind, "name": found.name, "tenant": found.tenant},
            revoked_at=found.at,
        )


def revoke(
    kind: Kind, name: str, *, tenant: str = ALL_TENANTS, reason: str = "", by: str = ""
) -> Revocation:
    """Revoke now (idempotent: revoking what is revoked changes nothing and logs nothing)."""
    revocation = Revocation(
        kind=kind, name=name, tenant=ALL_TENANTS if kind == "tenant" else tenant,
        reason=reason, by=by, at=now_iso(),
    )  # fmt: skip

    def change(data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        entries = dict(data.get("revocations") or {})
        if revocation.key in entries:
            return data, []
        entries[revocation.key] = revocation.model_dump()
        return {**data, "revocations": entries}, [("revocation.revoked", revocation.model_dump())]

    _commit(change)
    return Revocation.model_validate(current().entries[revocation.key])


def restore(
    kind: Kind, name: str, *, tenant: str = ALL_TENANTS, reason: str = "", by: str = ""
) -> bool:
    """Lift a revocation; False when it was not revoked (nothing changes, nothing is logged)."""
    key = revocation_key(kind, name, ALL_TENANTS if kind == "tenant" else tenant)
    done = {"lifted": False}

    def change(data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        entries = dict(data.get("revocations") or {})
        lifted = entries.pop(key, None)
        done["lifted"] = lifted is not None
        if lifted is None:
            return data, []
        event = {**lifted, "restored_by": by, "restore_reason": reason}
        return {**data, "revocations": entries}, [("revocation.restored", event)]

    _commit(change)
    return done["lifted"]


def _commit(change: Any) -> None:
    def guarded(data: dict[str, Any]) -> Any:
        new, events = change(data)
        return (new, events) if events else None

    commit_control(guarded)


def audit() -> tuple[list[dict[str, Any]], ChainVerdict]:
    """The control chain's events and the verifier's verdict (against the recorded head)."""
    events = load_control_audit()
    state = load_control()
    verdict = verify_chain(events, state.seq, state.head)
    return [e.model_dump() for e in events], verdict
