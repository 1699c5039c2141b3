"""Deploy-time configuration: one validated model read from CDK context.

Defaults live in ``cdk.json``; ``cdk synth -c key=value`` overrides them. Values given with
``-c`` arrive as strings, so numbers and JSON objects are parsed here. A bad value fails the
synth with a message naming the context key, before any construct is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from aios.keyring import TrustedKey, TrustedKeys
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from stacks.model_prices import DEFAULT_MODEL_TIERS, table_models

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_TARGET_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A context value is missing or malformed; the message names the context key."""


PositiveInt = Annotated[int, Field(ge=1)]


class ModelPrice(BaseModel):
    """USD per million tokens (the same shape as aios.pricing.ModelPrice at runtime): input,
    output, and prompt-cache reads and writes (unset: billed as input)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: Annotated[float, Field(ge=0)]
    output_per_mtok: Annotated[float, Field(ge=0)]
    cache_read_per_mtok: Annotated[float, Field(ge=0)] | None = None
    cache_write_per_mtok: Annotated[float, Field(ge=0)] | None = None


def table_model_prices() -> dict[str, ModelPrice]:
    """The models' token prices from the kit's price table (`aios/cost/prices.json`): the
    default of `model_prices`; a context value replaces the table's."""
    return {
        model_id: ModelPrice(
            input_per_mtok=rate["input_per_mtok"],
            output_per_mtok=rate["output_per_mtok"],
            cache_read_per_mtok=rate["cache_read_per_mtok"],
            cache_write_per_mtok=rate["cache_write_per_mtok"],
        )
        for model_id, rate in table_models().items()
    }


class TenantPlan(BaseModel):
    """A tenant's usage plan when callers authenticate by API key (`api_auth=api_key`):
    its own key, and throttling and a daily quota of its own (the stage's when unset)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limit: Annotated[int, Field(ge=1, le=10_000)] | None = None
    burst_limit: Annotated[int, Field(ge=1, le=5_000)] | None = None
    quota_per_day: Annotated[int, Field(ge=1)] | None = None


_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# The kit's own signals an alarm watches, with their default thresholds. A rate or spend alarm
# fires above its threshold, `acceptance_rate_floor` below it, any other when the count in its
# period exceeds the threshold (0: any occurrence).
ALARM_THRESHOLDS: dict[str, float] = {
    "actions_rejected": 0,
    "handoff_rate": 0.25,
    "budget_exhausted": 0,
    "approvals_past_sla": 0,
    "approval_timeouts": 0,
    "action_retries": 10,
    "actions_dead_lettered": 0,
    "memory_drift": 0,
    "daily_model_spend_usd": 50,
    "acceptance_rate_floor": 0.5,
    "stuck_cases": 0,
    "handoffs_past_sla": 0,
    "action_drift": 0,
}
RATES = ("handoff_rate", "acceptance_rate_floor")

# The Regions a geographic profile routes to (Bedrock user guide, "Supported cross-Region
# inference profiles"; `aws bedrock get-inference-profile` lists a profile's own): decide may
# invoke a profile's foundation model in these Regions, through the profile only.
INFERENCE_PROFILE_REGIONS: dict[str, list[str]] = {
    "us": ["us-east-1", "us-east-2", "us-west-1", "us-west-2"],
    "us-gov": ["us-gov-east-1", "us-gov-west-1"],
    "ca": ["ca-central-1", "ca-west-1"],
    "eu": ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"],
    "apac": [
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-4",
    ],
    "jp": ["ap-northeast-1", "ap-northeast-3"],
    "au": ["ap-southeast-2", "ap-southeast-4"],
}


class AiosConfig(BaseModel):
    """Every deploy-time setting of the kit, with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stack_name: str = Field(default="AiosKit", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    # Vector memory engine (stacks/memory.py): off by default, Serverless has an OCU floor.
    memory_engine: Literal["none", "serverless", "managed"] = "none"
    retention: Literal["retain", "destroy"] = "retain"
    log_retention_days: int = 30
    api_auth: Literal["iam", "api_key"] = "iam"
    api_throttle_rate_limit: Annotated[int, Field(ge=1, le=10_000)] = 50
    api_throttle_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    # Bounds match the functions' runtime settings (aios.settings.Settings.plan_ttl_seconds).
    plan_ttl_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600
    # The queue's visibility timeout is six times this, and SQS caps it at 12 hours.
    execute_timeout_seconds: Annotated[int, Field(ge=3, le=900)] = 30
    # Scale (README "Throughput limits"): the action queue's FIFO high-throughput mode
    # (deduplication and the throughput limit per message group, i.e. per entity), and how many
    # concurrent invocations the queues' event sources may reach: execute's bounds the calls
    # on outside systems, webhooks' the deliveries to subscribers. The decide function's
    # reserved concurrency (unset: none) caps concurrent model calls.
    fifo_high_throughput: bool = True
    execute_max_concurrency: Annotated[int, Field(ge=2, le=1000)] = 50
    webhooks_max_concurrency: Annotated[int, Field(ge=2, le=1000)] = 10
    decide_reserved_concurrency: Annotated[int, Field(ge=1, le=10_000)] | None = None
    http_targets: dict[str, str] = Field(
        default_factory=lambda: {"helpdesk": "https://helpdesk.example.com"}
    )
    alarm_email: str | None = None
    # SES identity that email.send sends from; None leaves email.send unconfigured (it refuses).
    email_sender: str | None = None
    # Human approvals: the SES identity approval emails come from, and Slack's Web API base.
    approvals_sender: str = Field(
        default="approvals@example.com", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )
    slack_api_url: str = Field(default="https://slack.com/api", pattern=r"^https://[^\s]+$")
    # How often the reminders function looks for approvals due a reminder.
    approval_reminder_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    model_provider: Literal["offline", "bedrock", "openai"] = "offline"
    # Decision plane. Tier name -> model ids: the first is the primary, the rest the fallback
    # chain on throttling or timeout. Prices are USD per million tokens, by default the price
    # table's (aios/cost/prices.json); every model needs one (budgets reserve an estimate from
    # it before each call). Default models: stacks/model_prices.py (current Claude models
    # through `us.` cross-Region inference profiles).
    model_tiers: dict[str, list[str]] = Field(
        default_factory=lambda: {tier: list(ids) for tier, ids in DEFAULT_MODEL_TIERS.items()}
    )
    model_prices: dict[str, ModelPrice] = Field(default_factory=table_model_prices)
    # Geography of a cross-Region inference profile (`us.`...) -> the Regions it routes to.
    inference_profile_regions: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in INFERENCE_PROFILE_REGIONS.items()}
    )
    # 0 bypasses the model-output cache.
    model_cache_ttl_seconds: Annotated[int, Field(ge=0, le=30 * 24 * 3600)] = 86400
    openai_base_url: str | None = Field(default=None, validate_default=True)
    # api_auth=api_key: one API key and usage plan per tenant (the key maps to the tenant).
    # With none listed, the one key belongs to the tenant "default". Under IAM, the tenant is
    # the caller's principal tag `aios:tenant` and this list is not used.
    tenants: dict[str, TenantPlan] = Field(default_factory=dict)
    # Runtime configuration (stacks/runtime_config.py): how long functions cache the deployed
    # processes, and how AppConfig rolls a new version out (linear steps, then a bake time
    # watched by alarms that roll it back).
    config_max_age_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    config_growth_percent: Annotated[float, Field(ge=1, le=100)] = 50
    config_deployment_minutes: Annotated[int, Field(ge=0, le=1440)] = 2
    config_bake_minutes: Annotated[int, Field(ge=0, le=1440)] = 5
    # Deploy-time options of capabilities with a config_model, by capability name; checked
    # against each model by the stack (stacks/capability_roles.py), defaults filled in.
    capability_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Signals: the reconciler, the KPI job and the alarms on the kit's own signals.
    reconciler_minutes: Annotated[int, Field(ge=1, le=1440)] = 5
    reconciler_lookback_days: Annotated[int, Field(ge=1, le=400)] = 30
    drift_window_hours: Annotated[int, Field(ge=1, le=720)] = 1
    kpi_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    kpi_window_hours: Annotated[int, Field(ge=1, le=744)] = 24
    alarm_thresholds: dict[str, float] = Field(default_factory=lambda: dict(ALARM_THRESHOLDS))
    # The audit anchor (stacks/audit_anchor.py): every `audit_checkpoint_minutes` the heads of
    # the audit chains that moved are signed into the Object Lock bucket, each checkpoint locked
    # in COMPLIANCE mode for `audit_retention_days` (nobody can delete it sooner, root
    # included); the first checkpoint looks back `audit_lookback_hours`.
    audit_retention_days: Annotated[int, Field(ge=1, le=36500)] = 365
    audit_checkpoint_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    audit_lookback_hours: Annotated[int, Field(ge=1, le=24 * 400)] = 24
    # Where the execution plane runs (stacks/execution_stack.py). Unset: in the one stack.
    # Either set: in its own stack `<stack_name>-Execution` in that account and/or region,
    # beside the decision stack in `decision_account`/`decision_region` (default: the CLI's
    # account and region, CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION).
    execution_account: str | None = Field(default=None, pattern=r"^\d{12}$")
    execution_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    decision_account: str | None = Field(default=None, pattern=r"^\d{12}$")
    decision_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    # The plan public keys the execution plane trusts when it runs on its own: key ARN ->
    # base64 DER SubjectPublicKeyInfo (`aws kms get-public-key`). Pinned in its configuration,
    # so verifying costs no KMS call and needs no access to the decision account's key.
    plan_public_keys: dict[str, str] = Field(default_factory=dict)
    # Every key the execution plane on its own trusts, per purpose (plan, policy, human), each
    # with its public key and an optional cut-off `not_after` for rotation (aios.keyring;
    # `aios keys pins` prints them). Plan keys here take the place of `plan_public_keys`.
    trusted_keys: TrustedKeys = Field(default_factory=TrustedKeys)
    # Also run the execution plane as a long-lived container on ECS Fargate in a private VPC
    # (stacks/executor.py): `fargate`. Default `none`: the execute Lambda function only.
    executor: Literal["none", "fargate"] = "none"

    @field_validator("log_retention_days")
    @classmethod
    def _valid_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @field_validator(
        "http_targets",
        "model_tiers",
        "model_prices",
        "inference_profile_regions",
        "capability_config",
        "tenants",
        "alarm_thresholds",
        "plan_public_keys",
        "trusted_keys",
        mode="before",
    )
    @classmethod
    def _parse_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc}") from exc
        return value

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, value: dict[str, TenantPlan]) -> dict[str, TenantPlan]:
        bad = [name for name in value if not _TENANT_NAME.match(name)]
        if bad:
            raise ValueError(f"tenant name {bad[0]!r} must match {_TENANT_NAME.pattern}")
        return value

    @property
    def api_key_tenants(self) -> dict[str, TenantPlan]:
        """The tenants that get an API key and usage plan under api_auth=api_key."""
        return dict(self.tenants) or {"default": TenantPlan()}

    @field_validator("http_targets")
    @classmethod
    def _https_targets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if not _TARGET_NAME.match(name):
                raise ValueError(f"target name {name!r} must match {_TARGET_NAME.pattern}")
            parsed = urlparse(url)
            if parsed.scheme != "https" or not parsed.hostname:
                raise ValueError(f"target {name!r} must be an https URL, got {url!r}")
        return value

    @field_validator("alarm_thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        """Given keys override the defaults; an unknown key or a bad value is an error."""
        unknown = sorted(set(value) - set(ALARM_THRESHOLDS))
        if unknown:
            raise ValueError(
                f"unknown alarm {', '.join(unknown)}; known: {', '.join(ALARM_THRESHOLDS)}"
            )
        for name, threshold in value.items():
            if threshold < 0 or (name in RATES and threshold > 1):
                raise ValueError(f"{name} must be {'0..1' if name in RATES else '>= 0'}")
        return {**ALARM_THRESHOLDS, **value}

    @field_validator("model_tiers")
    @classmethod
    def _tiers(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for tier, ids in value.items():
            if not re.match(r"^[a-z][a-z0-9-]{0,31}$", tier) or not ids:
                raise ValueError(f"tier {tier!r} needs a lowercase name and at least one model id")
            for model_id in ids:
                if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$", model_id):
                    raise ValueError(f"tier {tier!r}: {model_id!r} is not a model id")
        return value

    @field_validator("model_prices")
    @classmethod
    def _every_model_priced(
        cls, value: dict[str, ModelPrice], info: ValidationInfo
    ) -> dict[str, ModelPrice]:
        tiers = info.data.get("model_tiers") or {}
        unpriced = sorted({m for ids in tiers.values() for m in ids} - set(value))
        if unpriced:
            raise ValueError(f"no price for {', '.join(unpriced)}")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _openai_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value in (None, "", "null", "none"):
            value = None
        if info.data.get("model_provider") == "openai" or value is not None:
            parsed = urlparse(value or "")
            if parsed.scheme != "https" or not parsed.hostname:
                raise ValueError("must be an https URL when model_provider is openai")
        return value

    @property
    def model_ids(self) -> list[str]:
        """Every configured model id, once, in a stable order."""
        return sorted({m for ids in self.model_tiers.values() for m in ids})

    @field_validator(
        "execution_account",
        "execution_region",
        "decision_account",
        "decision_region",
        mode="before",
    )
    @classmethod
    def _optional_place(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip() in {"", "null", "none"}):
            return None
        return str(value).strip()

    @field_validator("plan_public_keys")
    @classmethod
    def _public_keys(cls, value: dict[str, str]) -> dict[str, str]:
        import base64
        import binascii

        for key_id, der in value.items():
            if not re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$", key_id):
                raise ValueError(f"{key_id!r} is not a KMS key ARN")
            try:
                base64.b64decode(der, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"the public key of {key_id} is not base64 DER") from exc
        return value

    @property
    def pinned_keys(self) -> TrustedKeys:
        """What the execution plane on its own trusts: `trusted_keys`, its plan keys from
        `plan_public_keys` when it names none."""
        keys = self.trusted_keys
        if keys.plan or not self.plan_public_keys:
            return keys
        plan = tuple(
            TrustedKey(key_id=k, public_key=v) for k, v in sorted(self.plan_public_keys.items())
        )
        return keys.model_copy(update={"plan": plan})

    @property
    def split(self) -> bool:
        """Whether the execution plane is a stack of its own."""
        return self.execution_account is not None or self.execution_region is not None

    @field_validator("alarm_email", "email_sender", mode="before")
    @classmethod
    def _optional_email(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip() in {"", "null", "none"}):
            return None
        if not isinstance(value, str) or not _EMAIL.match(value):
            raise ValueError(f"not an email address: {value!r}")
        return value

    @property
    def http_timeout_seconds(self) -> int:
        """Per-request HTTP timeout of the execute function: a third of its timeout, at most 10 s,
        so one retry still fits before Lambda stops the invocation."""
        return max(1, min(10, self.execute_timeout_seconds // 3))

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> AiosConfig:
        """Read every field from CDK context (``node.try_get_context``); absent keys keep defaults.

        Raises ConfigError naming the first bad context key.
        """
        raw = {key: get(key) for key in cls.model_fields}
        return cls.from_mapping({k: v for k, v in raw.items() if v is not None})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AiosConfig:
        """Validate context values (strings from ``-c`` or typed values from cdk.json)."""
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else "?"
            given = values.get(key, "<absent>")
            raise ConfigError(
                f"invalid context value for {key!r}: {err['msg']} (got {given!r})"
            ) from exc
