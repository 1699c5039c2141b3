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
from aios.keyring import Keyring, TrustedKey, TrustedKeys, kms_fetch
from aios.settings import Settings


def trusted_keys(settings: Settings) -> TrustedKeys:
    """The keys the execution plane trusts, per purpose (`aios.keyring`).

    `AIOS_TRUSTED_KEYS` (pinned, with cut-offs) when set; otherwise pinned plan keys
    (`AIOS_PLAN_PUBLIC_KEYS`) or the plan key `AIOS_PLAN_KEY_ID`, and the attestation keys
    `AIOS_POLICY_KEY_ID` / `AIOS_HUMAN_KEY_ID`, whose public keys come from KMS once per
    process. With none of them it trusts nothing: every action is refused
    (`SIGNATURE_INVALID`, recorded), which is what an execution stack deployed before its keys
    were pinned must do."""
    if settings.trusted_keys is not None and any(
        settings.trusted_keys.of(p) for p in ("plan", "policy", "human")
    ):
        return settings.trusted_keys
    if settings.plan_public_keys:
        plan = tuple(
            TrustedKey(key_id=k, public_key=v) for k, v in settings.plan_public_keys.items()
        )
    else:
        plan = (TrustedKey(key_id=settings.plan_key_id),) if settings.plan_key_id else ()
    return TrustedKeys(
        plan=plan,
        policy=(TrustedKey(key_id=settings.policy_key_id),) if settings.policy_key_id else (),
        human=(TrustedKey(key_id=settings.human_key_id),) if settings.human_key_id else (),
    )


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
