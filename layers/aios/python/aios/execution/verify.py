"""Verification: every check the execution plane makes before anything is applied.

Nothing reaches an outside system unless the plan signature verifies with a trusted key, the
action is the one the plan lists at its index, the plan has not expired, the process exists and
allows the capability, the params match their model, the capability authorizes them, and the
ledger holds the action with an attestation bound to its digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from aios.capabilities import Capability, get_capability
from aios.errors import (
    AttestationMissing,
    NotInPlan,
    PlanExpired,
    ProcessNotFound,
    UnknownAction,
    UnknownProcess,
    WrongCase,
)
from aios.ledger import get_action
from aios.plans import ActionMessage
from aios.settings import Settings
from aios.signing import PublicKeyCache, verify_plan
from aios.specs import get_spec


@dataclass(frozen=True)
class VerifiedAction:
    message: ActionMessage
    capability: Capability
    params: BaseModel
    applied: dict[str, Any] | None = None
    """The recorded result when the ledger already holds the action APPLIED."""


def verify_action(
    message: ActionMessage,
    *,
    keys: PublicKeyCache,
    trusted_key_ids: set[str],
    settings: Settings,
    now: datetime | None = None,
) -> VerifiedAction:
    """Every check before anything is applied; raises an ActionRejected subclass."""
    verify_plan(message.plan, keys, trusted_key_ids)
    envelope, action = message.plan.envelope, message.action
    if action.case_id != envelope.case_id or action.plan_id != envelope.plan_id:
        raise WrongCase(f"action {action.action_id} does not belong to case {envelope.case_id}")
    computed = action.spec().digest()
    listed = envelope.action_digests
    if (
        computed != action.digest_hex
        or action.index >= len(listed)
        or listed[action.index] != computed
    ):
        raise NotInPlan(f"action {action.action_id} is not the action the signed plan lists")
    if envelope.expired(now or datetime.now(UTC)):
        raise PlanExpired(f"plan {envelope.plan_id} expired at {envelope.expires_at}")
    try:
        spec = get_spec(envelope.process)
    except ProcessNotFound as exc:
        raise UnknownProcess(exc.message) from None
    capability = get_capability(action.capability, spec.allowed)
    params = capability.validate_params(action.params)
    if capability.authorize is not None:
        capability.authorize(params, settings)
    item = get_action(action.case_id, action.index)
    if item is None or (item.data or {}).get("action_id") != action.action_id:
        raise UnknownAction(f"the ledger holds no action {action.action_id}")
    attestation = (item.data or {}).get("attestation") or {}
    if attestation.get("digest") != computed:
        raise AttestationMissing(
            f"action {action.action_id} has no attestation bound to its digest"
        )
    applied = dict(item.result or {}) if item.status == "APPLIED" else None
    return VerifiedAction(message=message, capability=capability, params=params, applied=applied)
