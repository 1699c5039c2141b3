"""The runtime environment contract shared by every function.

CDK writes these variables into each function's environment; the local emulation reads the
same variables from the synthesized template. A missing or malformed variable fails the cold
start with a message naming it, rather than a KeyError halfway through a case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aios.keyring import TrustedKeys


class Settings(BaseModel):
    """Environment of a function. Fields a function does not use may be absent."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ledger_table: str = Field(default="", alias="AIOS_LEDGER_TABLE")
    idempotency_table: str = Field(default="", alias="AIOS_IDEMPOTENCY_TABLE")
    state_machine_arn: str = Field(default="", alias="AIOS_STATE_MACHINE_ARN")
    plan_key_id: str = Field(default="", alias="AIOS_PLAN_KEY_ID")
    # The attestation keys: the policy's (Decide signs auto actions) and people's (approvals
    # and an operator's act-by-hand sign); see aios.attestations.
    policy_key_id: str = Field(default="", alias="AIOS_POLICY_KEY_ID")
    human_key_id: str = Field(default="", alias="AIOS_HUMAN_KEY_ID")
    plan_ttl_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, alias="AIOS_PLAN_TTL_SECONDS"
    )
    model_provider: str = Field(default="offline", alias="AIOS_MODEL_PROVIDER")
    http_targets: dict[str, str] = Field(default_factory=dict, alias="AIOS_HTTP_TARGETS")
    http_secret_arn: str = Field(default="", alias="AIOS_HTTP_SECRET_ARN")
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=30, alias="AIOS_HTTP_TIMEOUT_SECONDS")
    email_sender: str = Field(default="", alias="AIOS_EMAIL_SENDER")
    capability_roles: dict[str, str] = Field(default_factory=dict, alias="AIOS_CAPABILITY_ROLES")
    # A capability's own secret (ARN) and its deploy-time options, by capability name.
    capability_secrets: dict[str, str] = Field(
        default_factory=dict, alias="AIOS_CAPABILITY_SECRETS"
    )
    capability_config: dict[str, dict[str, Any]] = Field(
        default_factory=dict, alias="AIOS_CAPABILITY_CONFIG"
    )
    # Where a caller's tenant comes from (aios.tenants): its IAM principal tag, or its API key.
    api_auth: str = Field(default="iam", pattern="^(iam|api_key)$", alias="AIOS_API_AUTH")
    tenant_api_keys: dict[str, str] = Field(default_factory=dict, alias="AIOS_TENANT_API_KEYS")
    """tenant -> the id of its API key (on its own usage plan), when `api_auth` is api_key."""
    # The deployed runtime configuration (aios.control.config): AppConfig names, and how long
    # a read is cached. Unset, the function serves the bundled specs.
    config_application: str = Field(default="", alias="AIOS_CONFIG_APPLICATION")
    config_environment: str = Field(default="", alias="AIOS_CONFIG_ENVIRONMENT")
    config_profile: str = Field(default="", alias="AIOS_CONFIG_PROFILE")
    config_max_age_seconds: int = Field(
        default=30, ge=0, le=3600, alias="AIOS_CONFIG_MAX_AGE_SECONDS"
    )
    approvals_secret_arn: str = Field(default="", alias="AIOS_APPROVALS_SECRET_ARN")
    approvals_sender: str = Field(default="", alias="AIOS_APPROVALS_SENDER")
    public_api_url: str = Field(default="", alias="AIOS_PUBLIC_API_URL")
    console_url: str = Field(default="", alias="AIOS_CONSOLE_URL")
    """The operator console's base URL; unset, `<public API URL>console`."""
    slack_api_url: str = Field(default="https://slack.com/api", alias="AIOS_SLACK_API_URL")
    # Decision plane: tiers map to model ids (first = primary, rest = fallback chain); prices
    # are USD per million tokens, {"model": {"input_per_mtok": ..., "output_per_mtok": ...}}.
    model_tiers: dict[str, list[str]] = Field(default_factory=dict, alias="AIOS_MODEL_TIERS")
    model_prices: dict[str, dict[str, float]] = Field(
        default_factory=dict, alias="AIOS_MODEL_PRICES"
    )
    decision_table: str = Field(default="", alias="AIOS_DECISION_TABLE")
    model_cache_ttl_seconds: int = Field(
        default=0, ge=0, le=30 * 24 * 3600, alias="AIOS_MODEL_CACHE_TTL_SECONDS"
    )
    openai_base_url: str = Field(default="", alias="AIOS_OPENAI_BASE_URL")
    openai_secret_arn: str = Field(default="", alias="AIOS_OPENAI_SECRET_ARN")
    # Signals: the case events bus, webhook deliveries, the reconciler and the KPI job.
    event_bus_name: str = Field(default="", alias="AIOS_EVENT_BUS")
    webhook_dlq_url: str = Field(default="", alias="AIOS_WEBHOOK_DLQ_URL")
    action_queue_url: str = Field(default="", alias="AIOS_ACTION_QUEUE_URL")
    action_dlq_url: str = Field(default="", alias="AIOS_ACTION_DLQ_URL")
    reconciler_lookback_days: int = Field(
        default=30, ge=1, le=400, alias="AIOS_RECONCILER_LOOKBACK_DAYS"
    )
    reconciler_grace_seconds: int = Field(
        default=300, ge=0, le=86400, alias="AIOS_RECONCILER_GRACE_SECONDS"
    )
    drift_window_hours: int = Field(default=1, ge=1, le=720, alias="AIOS_DRIFT_WINDOW_HOURS")
    kpi_window_hours: int = Field(default=24, ge=1, le=744, alias="AIOS_KPI_WINDOW_HOURS")
    # Operator console: the CSRF key's secret and the user pool app client people sign in with.
    console_secret_arn: str = Field(default="", alias="AIOS_CONSOLE_SECRET_ARN")
    console_user_pool_id: str = Field(default="", alias="AIOS_CONSOLE_USER_POOL_ID")
    console_client_id: str = Field(default="", alias="AIOS_CONSOLE_CLIENT_ID")
    # The execution plane on its own (another account, or the executor): the plan public keys
    # it trusts, pinned (key id -> base64 DER), and the decision account's role it answers the
    # case machine's tasks through, with the machine's region.
    plan_public_keys: dict[str, str] = Field(default_factory=dict, alias="AIOS_PLAN_PUBLIC_KEYS")
    # Every key the execution plane trusts, per purpose, with cut-offs (aios.keyring).
    trusted_keys: TrustedKeys | None = Field(default=None, alias="AIOS_TRUSTED_KEYS")
    # Whether the execution plane shares the decision ledger (one stack): it then also checks
    # the action item's status there and records outcomes on the case's audit chain.
    decision_ledger: bool = Field(default=True, alias="AIOS_DECISION_LEDGER")
    task_answer_role_arn: str = Field(default="", alias="AIOS_TASK_ANSWER_ROLE_ARN")
    task_answer_region: str = Field(default="", alias="AIOS_TASK_ANSWER_REGION")
    # The audit anchor (aios.anchor): the Object Lock bucket, the checkpoint signing key, how
    # long each checkpoint stays locked, and how far back the first checkpoint looks.
    audit_bucket: str = Field(default="", alias="AIOS_AUDIT_BUCKET")
    audit_key_id: str = Field(default="", alias="AIOS_AUDIT_KEY_ID")
    audit_retention_days: int = Field(
        default=365, ge=1, le=36500, alias="AIOS_AUDIT_RETENTION_DAYS"
    )
    audit_lookback_hours: int = Field(
        default=24, ge=1, le=24 * 400, alias="AIOS_AUDIT_LOOKBACK_HOURS"
    )

    @field_validator(
        "http_targets",
        "capability_roles",
        "capability_secrets",
        "capability_config",
        "model_tiers",
        "model_prices",
        "tenant_api_keys",
        "plan_public_keys",
        "trusted_keys",
        mode="before",
    )
    @classmethod
    def _parse_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def api_key_tenants(self) -> dict[str, str] | None:
        """API key id -> tenant when callers authenticate by API key; None under IAM."""
        if self.api_auth != "api_key":
            return None
        return {key_id: tenant for tenant, key_id in self.tenant_api_keys.items()}

    def require(self, *names: str) -> Settings:
        """Fail fast when a function needs a variable that its environment lacks."""
        missing = [str(self.model_fields[name].alias) for name in names if not getattr(self, name)]
        if missing:
            raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
        return self


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Validate the environment into Settings; raises RuntimeError naming the bad variable."""
    env = dict(os.environ if environ is None else environ)
    try:
        return Settings.model_validate(env)
    except ValidationError as exc:
        fields = ", ".join(str(err["loc"][0]) for err in exc.errors())
        raise RuntimeError(f"invalid environment variables: {fields}: {exc}") from exc
