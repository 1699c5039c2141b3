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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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


class AiosConfig(BaseModel):
    """Every deploy-time setting of the kit, with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stack_name: str = Field(default="AiosKit", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    retention: Literal["retain", "destroy"] = "retain"
    log_retention_days: int = 30
    api_auth: Literal["iam", "api_key"] = "iam"
    api_throttle_rate_limit: Annotated[int, Field(ge=1, le=10_000)] = 50
    api_throttle_burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    # Bounds match the functions' runtime settings (aios.settings.Settings.plan_ttl_seconds).
    plan_ttl_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600
    # The queue's visibility timeout is six times this, and SQS caps it at 12 hours.
    execute_timeout_seconds: Annotated[int, Field(ge=3, le=900)] = 30
    http_targets: dict[str, str] = Field(
        default_factory=lambda: {"helpdesk": "https://helpdesk.example.com"}
    )
    alarm_email: str | None = None
    # SES identity that email.send sends from; None leaves email.send unconfigured (it refuses).
    email_sender: str | None = None
    model_provider: str = Field(default="offline", pattern=r"^[a-z][a-z0-9-]{0,63}$")

    @field_validator("log_retention_days")
    @classmethod
    def _valid_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @field_validator("http_targets", mode="before")
    @classmethod
    def _parse_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc}") from exc
        return value

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
