"""How a runner of the execution plane wires its context, once per process: the execute Lambda
function and the executor (`aios.executor`) both call `execution_context`, so they verify with
the same keys and answer tasks the same way.

Plan keys: pinned public keys (`AIOS_PLAN_PUBLIC_KEYS`, the execution plane on its own) are
trusted as they are, with no KMS call; otherwise the plan key `AIOS_PLAN_KEY_ID` is trusted and
its public key fetched from KMS once per process. Task answers go through the decision
account's task answer role when `AIOS_TASK_ANSWER_ROLE_ARN` names one.
"""

from __future__ import annotations

from collections.abc import Callable

from aios import aws, tasks
from aios.execution import ExecutionContext
from aios.execution.apply import Runner
from aios.settings import Settings
from aios.signing import PublicKeyCache


def trusted_keys(settings: Settings) -> tuple[PublicKeyCache, frozenset[str]]:
    """The public keys and the key ids whose plan signatures the execution plane accepts.

    With neither pinned keys nor a plan key id it trusts nothing: every plan is refused
    (`SIGNATURE_INVALID`, recorded), which is what an execution stack deployed before its
    plan key was pinned must do."""
    if settings.plan_public_keys:
        pinned = settings.plan_public_keys
        return PublicKeyCache.from_pinned(pinned), frozenset(pinned)
    if not settings.plan_key_id:
        return PublicKeyCache.from_pinned({}), frozenset()
    return PublicKeyCache.from_kms(aws.client("kms")), frozenset({settings.plan_key_id})


def execution_context(
    settings: Settings, run_once: Runner, log_keys: Callable[..., None] | None = None
) -> ExecutionContext:
    """The context `aios.execution.run_message` runs with, for the Lambda function or the
    executor alike."""
    keys, trusted = trusted_keys(settings)
    tasks.answer_through(settings.task_answer_role_arn, settings.task_answer_region)
    return ExecutionContext(
        settings=settings,
        keys=keys,
        trusted_key_ids=trusted,
        run_once=run_once,
        succeed_task=tasks.succeed_task,
        fail_task=tasks.fail_task,
        log_keys=log_keys or (lambda **_: None),
    )
