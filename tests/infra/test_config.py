"""The deploy-time config model: defaults, parsing of -c strings, clear errors naming the key."""

from __future__ import annotations

import json

import pytest

from stacks.application import build_app, cdk_json_context
from stacks.config import AiosConfig, ConfigError
from stacks.model_prices import PRICE_TABLE


def test_cdk_json_holds_every_config_key_with_the_model_default() -> None:
    context = cdk_json_context()
    defaults = AiosConfig().model_dump()
    # model_prices defaults to the price table (aios/cost/prices.json), its one source.
    assert "model_prices" not in context
    defaults.pop("model_prices")
    assert {key: context[key] for key in defaults} == defaults


def test_model_prices_default_to_the_price_table() -> None:
    table = json.loads(PRICE_TABLE.read_text())["models"]
    prices = AiosConfig().model_prices
    assert set(prices) == set(table)
    for model_id, price in prices.items():
        assert price.input_per_mtok == table[model_id]["input_per_mtok"]
        assert price.output_per_mtok == table[model_id]["output_per_mtok"]


def test_string_values_from_the_command_line_are_parsed() -> None:
    config = AiosConfig.from_mapping(
        {
            "api_throttle_rate_limit": "20",
            "execute_timeout_seconds": "45",
            "http_targets": json.dumps({"crm": "https://crm.example.com"}),
            "alarm_email": "",
        }
    )
    assert config.api_throttle_rate_limit == 20
    assert config.execute_timeout_seconds == 45
    assert config.http_targets == {"crm": "https://crm.example.com"}
    assert config.alarm_email is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("api_auth", "cognito"),
        ("retention", "forever"),
        ("log_retention_days", "31"),
        ("api_throttle_rate_limit", "fast"),
        ("execute_timeout_seconds", "0"),
        ("plan_ttl_seconds", "5"),
        ("http_targets", '{"helpdesk": "http://plain.example.com"}'),
        ("http_targets", "not json"),
        ("alarm_email", "not-an-email"),
        ("stack_name", "1-bad name"),
        ("model_provider", "gpt"),
        ("model_tiers", '{"small": []}'),
        (
            "model_prices",
            '{"anthropic.claude-3-haiku-20240307-v1:0": {"input_per_mtok": 1, "output_per_mtok": 1}}',
        ),
        ("model_cache_ttl_seconds", "-1"),
        ("openai_base_url", "http://plain.example.com/v1"),
        ("alarm_thresholds", '{"handoff_rate": 1.5}'),
        ("alarm_thresholds", '{"actions_rejected": -1}'),
        ("alarm_thresholds", '{"no_such_alarm": 1}'),
        ("reconciler_minutes", "0"),
        ("kpi_window_hours", "0"),
        ("execution_account", "12345"),
        ("execution_region", "Mars"),
        ("plan_public_keys", '{"not-an-arn": "AAAA"}'),
        (
            "plan_public_keys",
            '{"arn:aws:kms:us-east-1:111111111111:key/abc": "not base64!"}',
        ),
        ("executor", "kubernetes"),
    ],
)
def test_bad_value_is_rejected_with_a_message_naming_the_context_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"^invalid context value for '{key}': "):
        AiosConfig.from_mapping({key: value})


def test_alarm_thresholds_given_override_the_defaults_one_by_one() -> None:
    config = AiosConfig.from_mapping({"alarm_thresholds": '{"handoff_rate": 0.4}'})
    assert config.alarm_thresholds["handoff_rate"] == 0.4
    assert config.alarm_thresholds["actions_rejected"] == 0  # the rest keep their defaults
    assert set(config.alarm_thresholds) == set(AiosConfig().alarm_thresholds)


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ConfigError, match="invalid context value for 'api_authentication'"):
        AiosConfig.from_mapping({"api_authentication": "iam"})


def test_bad_context_fails_the_app_before_any_resource_is_built() -> None:
    from aws_cdk import App

    app = App(context={**cdk_json_context(), "api_auth": "cognito"})
    with pytest.raises(ConfigError, match="invalid context value for 'api_auth'"):
        build_app(app)
    assert app.node.children == []


def test_the_execution_plane_is_split_off_when_its_account_or_region_is_given() -> None:
    assert not AiosConfig.from_mapping({}).split
    assert not AiosConfig.from_mapping({"execution_account": ""}).split  # `-c key=` is unset
    assert AiosConfig.from_mapping({"execution_account": "222222222222"}).split
    assert AiosConfig.from_mapping({"execution_region": "eu-west-1"}).split


def test_a_split_without_the_decision_account_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stacks.application import boundary_of

    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    config = AiosConfig.from_mapping({"execution_region": "eu-west-1"})
    with pytest.raises(ConfigError, match="decision_account"):
        boundary_of(config)
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    boundary = boundary_of(config)
    assert (boundary.execution_account, boundary.execution_region) == ("111111111111", "eu-west-1")
    assert boundary.execute_role_name == "AiosKit-execute"
