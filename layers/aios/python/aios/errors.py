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


class TenantUnknown(AiosError):
    """The caller maps to no tenant: no `aios:tenant` tag on its IAM principal, or an API key
    that no tenant's usage plan holds."""

    code = "TENANT_UNKNOWN"


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


# Approvals: a person's answer, from a link or a Slack button, that cannot be applied.
class ApprovalNotFound(AiosError):
    code = "APPROVAL_NOT_FOUND"


class LinkForbidden(AiosError):
    """A forged token, another approval's token, or a person who is not an approver."""

    code = "APPROVAL_FORBIDDEN"


class LinkExpired(AiosError):
    """The link's level timed out: the approval escalated or closed since it was sent."""

    code = "APPROVAL_EXPIRED"


class AlreadyDecided(AiosError):
    """This approver decided already, or the approval is closed."""

    code = "APPROVAL_ALREADY_DECIDED"


class ChangesNotAllowed(AiosError):
    """The rule's rounds of "request changes" are used up: approve or reject remain."""

    code = "APPROVAL_NO_MORE_CHANGES"


class InvalidDecision(AiosError):
    """Not one of approve, reject, changes; or a request for changes that says nothing."""

    code = "APPROVAL_INVALID_DECISION"


class SlackSignatureInvalid(AiosError):
    """A Slack request without Slack's signature, with a wrong one, or too old."""

    code = "SLACK_SIGNATURE_INVALID"


# Server errors: what a client sees of a failure it did not cause.
class InternalError(AiosError):
    """Stands in, at a boundary, for an error the boundary has no mapping for."""

    code = "INTERNAL"


# Approvals: the state machine asked for something the ledger does not support.
class ActionNotProposed(AiosError):
    """An approval was asked for an action that is not a PROPOSED action of the case."""

    code = "APPROVAL_ACTION_NOT_PROPOSED"


class ActionChanged(AiosError):
    """The action's digest differs from the one its approval was requested for."""

    code = "APPROVAL_ACTION_CHANGED"


class NoApprovalRule(AiosError):
    """No rule of the process's approval policy applies to the action."""

    code = "APPROVAL_NO_RULE"


class NoChangeRequest(AiosError):
    """A revision was asked for a case whose approvals never requested changes."""

    code = "APPROVAL_NO_CHANGE_REQUEST"


# Decision plane: model output that cannot become a proposal.
class InvalidPlan(AiosError):
    code = "INVALID_PLAN"


class SpecError(AiosError):
    code = "INVALID_PROCESS_SPEC"


class ConfigUnavailable(AiosError):
    """The deployed runtime configuration could not be read or never validated."""

    code = "CONFIG_UNAVAILABLE"


class CapabilityDefinitionError(SpecError):
    """A user capability module that cannot be loaded: the message names the file and field."""

    code = "INVALID_CAPABILITY"


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


class AttestationInvalid(ActionRejected):
    """The action's attestation is not signed by a key pinned for its kind (a policy key for
    a policy attestation, a human key for a human one), or does not bind this action's digest,
    case, plan and spec: a row written into a table is never enough."""

    code = "ATTESTATION_INVALID"


class KeyRetired(SignatureInvalid):
    """Signed with a trusted key past its cut-off (`not_after`): a rotated-out key."""

    code = "KEY_RETIRED"


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


class ClaimInvalid(ActionRejected):
    """A message's claim-checked body is missing, elsewhere than the kit's body store, or does
    not hash to the digest the message carries."""

    code = "CLAIM_INVALID"


class MalformedMessage(ActionRejected):
    """The queue message is not an action or compensation message the kit could have sent."""

    code = "MALFORMED_MESSAGE"


class UnknownProcess(ActionRejected):
    code = "PROCESS_UNKNOWN"


class ActionReplayed(ActionRejected):
    """The action was applied already and no task waits for it: a replayed message."""

    code = "ACTION_REPLAYED"


class ActionNotRunnable(ActionRejected):
    """The ledger says the action will not run (failed, skipped, superseded, dead-lettered):
    a redriven or replayed message for it is refused before anything is applied."""

    code = "ACTION_NOT_RUNNABLE"


class CompensationRefused(ActionRejected):
    """A compensation request the case machine did not send (unknown or healthy case, wrong key)."""

    code = "COMPENSATION_REFUSED"


class ConstraintViolated(ActionRejected):
    """The params break a constraint the process spec puts on the capability (a target, a
    path pattern, a body schema, a bound on the case input or entity state, a uniqueness
    rule, a recipient pattern)."""

    code = "CONSTRAINT_VIOLATED"


class ApprovalRequired(ActionRejected):
    """The policy in force gates the action `approve`; it carries no human attestation that
    meets the rule's quorum (an automatic one, written by a planner bug or into the ledger)."""

    code = "APPROVAL_REQUIRED"


class PolicyDenied(ActionRejected):
    """The policy in force denies the action."""

    code = "POLICY_DENIED"


class CapabilityRevoked(ActionRejected):
    """An operator revoked the capability, the process or the tenant (the kill switch)."""

    code = "CAPABILITY_REVOKED"


class EnvelopeUnsupported(ActionRejected):
    """The signed envelope is of another version: it lacks what the checks need (the spec it
    was planned under, the input digest, the confidence)."""

    code = "ENVELOPE_UNSUPPORTED"


class InputMismatch(ActionRejected):
    """The case input in the ledger is not the input the plan was signed for."""

    code = "INPUT_MISMATCH"


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


# Operator console: signing in and form protection.
class SignInFailed(AiosError):
    """The user pool refused the credentials (or the challenge answer)."""

    code = "SIGN_IN_FAILED"


class CsrfRejected(AiosError):
    """A form POST without this session's CSRF token, or from another origin."""

    code = "CSRF_REJECTED"


# The audit anchor (aios.anchor): a checkpoint that cannot be trusted.
class CheckpointInvalid(AiosError):
    """An audit checkpoint is unsigned, signed by an untrusted key, altered, or out of its
    chain of checkpoints."""

    code = "CHECKPOINT_INVALID"
