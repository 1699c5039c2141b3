"""How a runner of the execution plane wires its context, once per process: the execute Lambda
function and the executor (`aios.executor`) both call `execution_context`, so they verify with
the same keys and answer tasks the same way.

Keys: pinned public keys (`AIOS_TRUSTED_KEYS`, per purpose with cut-offs, or the older
`AIOS_PLAN_PUBLIC_KEYS`; the execution plane on its own) are trusted as they are, with no KMS
call; otherwise the plan, policy and human keys named by id are trusted and their public keys
fetched from KMS once per process. Task answers go through the decision
account's task answer role when `AIOS_TASK_ANSWER_ROLE_ARN` names one.
"""

from __future__ import annotations

from collections.abc import Callable

from aios import aws, tasks
from aios.execution import ExecutionContext
from aios.execution.apply import Runner
from aios.keyring import PURPOSES, Keyring, TrustedKey, TrustedKeys, kms_fetch
from aios.settings import Settings


def trusted_keys(settings: Settings) -> TrustedKeys:
    """The keys the execution plane trusts, per purpose (`aios.keyring`).

    Per purpose, the keys pinned in `AIOS_TRUSTED_KEYS` (with cut-offs) when it names any;
    otherwise the plan keys pinned in `AIOS_PLAN_PUBLIC_KEYS`, or the key named by
    `AIOS_PLAN_KEY_ID` / `AIOS_POLICY_KEY_ID` / `AIOS_HUMAN_KEY_ID`, whose public key comes from
    KMS once per process. With none it trusts nothing: every action is refused
    (`SIGNATURE_INVALID`, recorded), which is what an execution stack deployed before its keys
    were pinned must do."""
    pinned = settings.trusted_keys or TrustedKeys()
    named = {
        "plan": settings.plan_key_id,
        "policy": settings.policy_key_id,
        "human": settings.human_key_id,
    }
    chosen: dict[str, tuple[TrustedKey, ...]] = {}
    for purpose in PURPOSES:
        if pinned.of(purpose):
            chosen[purpose] = pinned.of(purpose)
        elif purpose == "plan" and settings.plan_public_keys:
            chosen[purpose] = tuple(
                TrustedKey(key_id=k, public_key=v) for k, v in settings.plan_public_keys.items()
            )
        else:
            chosen[purpose] = (TrustedKey(key_id=named[purpose]),) if named[purpose] else ()
    return TrustedKeys.model_validate(chosen)


def keyring_for(settings: Settings) -> Keyring:
    """The keyring of `trusted_keys`; KMS is asked only for keys that are not pinned, once."""
    trusted = trusted_keys(settings)
    return Keyring(trusted, None if trusted.pinned else kms_fetch(aws.client("kms")))


def execution_context(
    settings: Settings, run_once: Runner, log_keys: Callable[..., None] | None = None
) -> ExecutionContext:
    """The context `aios.execution.run_message` runs with, for the Lambda function or the
    executor alike."""
    keyring = keyring_for(settings)
    tasks.answer_through(settings.task_answer_role_arn, settings.task_answer_region)
    return ExecutionContext(
        settings=settings,
        keyring=keyring,
        run_once=run_once,
        succeed_task=tasks.succeed_task,
        fail_task=tasks.fail_task,
        log_keys=log_keys or (lambda **_: None),
    )
