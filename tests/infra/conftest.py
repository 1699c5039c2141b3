"""Synthesizes the CDK app once per session (asset bundling skipped) for the infra tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infra_synth import Synth, synthesize


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app as deployed with cdk.json's defaults."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synth_variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app with every non-default option: API keys (two tenants), alarm email, destroy,
    longer timeout, reminders every five minutes, two alarm thresholds, the reconciler every ten
    minutes."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.variant"),
        stack_name="AiosKitVariant",
        api_auth="api_key",
        alarm_email="ops@example.com",
        retention="destroy",
        log_retention_days="90",
        execute_timeout_seconds="60",
        api_throttle_rate_limit="7",
        api_throttle_burst_limit="9",
        http_targets='{"crm": "https://crm.example.com/hook"}',
        approval_reminder_minutes="5",
        tenants='{"acme": {"quota_per_day": 1000}, "globex": {"rate_limit": 3, "burst_limit": 5}}',
        config_growth_percent="25",
        config_bake_minutes="1",
        config_max_age_seconds="10",
        alarm_thresholds='{"handoff_rate": 0.4, "action_retries": 3}',
        reconciler_minutes="10",
    )
