"""Synthesizes the CDK app once per session (asset bundling skipped) for the infra tests."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
    minutes, audit checkpoints every 15 minutes locked for 30 days."""
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
        executor="fargate",
        audit_retention_days="30",
        audit_checkpoint_minutes="15",
    )


DECISION_ACCOUNT, EXECUTION_ACCOUNT = "111111111111", "222222222222"
PINNED_KEY = f"arn:aws:kms:us-east-1:{DECISION_ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
RETIRING_KEY = f"arn:aws:kms:us-east-1:{DECISION_ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
POLICY_KEY = f"arn:aws:kms:us-east-1:{DECISION_ACCOUNT}:key/22222222-3333-4444-5555-666666666666"
HUMAN_KEY = f"arn:aws:kms:us-east-1:{DECISION_ACCOUNT}:key/33333333-4444-5555-6666-777777777777"


def _public_key() -> str:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(scope="session")
def synth_split(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The split layout: the decision plane in one account (us-east-1), the execution plane in
    another (eu-west-1) with pinned keys (two plan keys during a rotation, the older with its
    cut-off; the policy and human keys), and the executor on Fargate."""
    trusted = {
        "plan": [
            {"key_id": PINNED_KEY, "public_key": _public_key()},
            {
                "key_id": RETIRING_KEY,
                "public_key": _public_key(),
                "not_after": "2026-12-31T00:00:00+00:00",
            },
        ],
        "policy": [{"key_id": POLICY_KEY, "public_key": _public_key()}],
        "human": [{"key_id": HUMAN_KEY, "public_key": _public_key()}],
    }
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.split"),
        decision_account=DECISION_ACCOUNT,
        decision_region="us-east-1",
        execution_account=EXECUTION_ACCOUNT,
        execution_region="eu-west-1",
        trusted_keys=json.dumps(trusted),
        executor="fargate",
    )
