"""Domain errors, each with a stable machine-readable `code`.

Boundaries map them in one place each: the api function to HTTP statuses, the execute
function to Step Functions error names (`Aios.<Name>`), batch item failures and ledger records.
"""

from __future__ import annotations

from typing import Any


class AiosError(Exception):
    """Base of every domain error."""

    code = "AIOS_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


# Client errors: the caller sent something wrong.
class ProcessNotFound(AiosError):
    code = "PROCESS_NOT_FOUND"


class CaseNotFound(AiosError):
    code = "CASE_NOT_FOUND"


class InvalidInput(AiosError):
    code = "INVALID_INPUT"


class IdempotencyConflict(AiosError):
    code = "IDEMPOTENCY_KEY_REUSED"


class RouteNotFound(AiosError):
    """The API has no route for the request's method and path."""

    code = "ROUTE_NOT_FOUND"


# People in the loop: an operator's move on a handed-off case that cannot be made.
class Forbidden(AiosError):
    """The person's roles do not allow this move on this process."""

    code = "FORBIDDEN"


class HeldByOther(AiosError):
    """Another operator holds the case; `holder` in the details names them."""

    code = "HELD_BY_OTHER"


class HandoffNotFound(CaseNotFound):
    """The case has no such handoff, or was never handed off."""

    code = "HANDOFF_NOT_FOUND"


class CaseNotWaiting(AiosError):
    """The case is not waiting for a person (any more): someone moved it, or it timed out."""

    code = "CASE_NOT_WAITING"


class SlackSignatureInvalid(AiosError):
    """A request claiming to come from Slack is unsigned, stale or wrongly signed."""

    code = "SLACK_SIGNATURE_INVALID"


# Server errors: what a client sees of a failure it did not cause.
class InternalError(AiosError):
    """Stands in, at a boundary, for an error the boundary has no mapping for."""

    code = "INTERNAL"


# Decision plane: model output that cannot become a proposal.
class InvalidPlan(AiosError):
    code = "INVALID_PLAN"


class SpecError(AiosError):
    code = "INVALID_PROCESS_SPEC"


class BudgetExhausted(AiosError):
    """The tenant's daily budget for the process cannot cover the next model call."""

    code = "BUDGET_EXHAUSTED"


class ModelThrottled(AiosError):
    """The model refused for now (throttling, overload): try the next model in the chain."""

    code = "MODEL_THROTTLED"


class ModelTimeout(AiosError):
    """The model did not answer in time: try the next model in the chain."""

    code = "MODEL_TIMEOUT"


class ModelUnavailable(AiosError):
    """Every model of a tier's fallback chain was throttled or timed out."""

    code = "MODEL_UNAVAILABLE"


class ProviderError(AiosError):
    """The provider failed in a way another attempt will not fix (auth, bad request)."""

    code = "PROVIDER_ERROR"


# Execution plane: reasons an action is refused before anything is applied.
class ActionRejected(AiosError):
    """The action failed verification; it is never applied and never retried."""

    code = "ACTION_REJECTED"


class SignatureInvalid(ActionRejected):
    code = "SIGNATURE_INVALID"


class NotInPlan(ActionRejected):
    code = "ACTION_NOT_IN_PLAN"


class PlanExpired(ActionRejected):
    code = "PLAN_EXPIRED"


class WrongCase(ActionRejected):
    code = "ACTION_WRONG_CASE"


class AttestationMissing(ActionRejected):
    code = "ATTESTATION_MISSING"


class InvalidParams(ActionRejected):
    code = "INVALID_PARAMS"


class CapabilityNotAllowed(ActionRejected):
    code = "CAPABILITY_NOT_ALLOWED"


class HostNotAllowed(ActionRejected):
    code = "HOST_NOT_ALLOWED"


class MessageTooLarge(ActionRejected):
    code = "MESSAGE_TOO_LARGE"


class UnknownAction(ActionRejected):
    code = "ACTION_UNKNOWN"


class MalformedMessage(ActionRejected):
    """The queue message is not an action or compensation message the kit could have sent."""

    code = "MALFORMED_MESSAGE"


class UnknownProcess(ActionRejected):
    code = "PROCESS_UNKNOWN"


class ActionReplayed(ActionRejected):
    """The action was applied already and no task waits for it: a replayed message."""

    code = "ACTION_REPLAYED"


class CompensationRefused(ActionRejected):
    """A compensation request the case machine did not send (unknown or healthy case, wrong key)."""

    code = "COMPENSATION_REFUSED"


class MessageUnprocessable(ActionRejected):
    """Verification hit an error no retry can fix; the message is refused, never retried."""

    code = "MESSAGE_UNPROCESSABLE"


# Execution plane: outcomes of applying an action.
class RetryableActionError(AiosError):
    """The outside system may succeed later: the message goes back to the queue."""

    code = "ACTION_RETRYABLE"


class TerminalActionError(AiosError):
    """The outside system refused the action for good: the case is told at once."""

    code = "ACTION_FAILED"


class LedgerConflict(AiosError):
    """A conditional ledger write lost a race; the caller re-reads and decides."""

    code = "LEDGER_CONFLICT"


# Memory: canonical records and the case state's claim checks.
class StaleMemoryWrite(AiosError):
    """A write carried a version not newer than the stored one; the stored record stands."""

    code = "MEMORY_STALE_WRITE"


class ClaimCheckError(AiosError):
    """A claim check could not be redeemed: missing object or content that does not match."""

    code = "CLAIM_CHECK_INVALID"
