"""The Bedrock provider against botocore's Stubber: Converse request and response shapes,
throttling, timeouts, and a malformed tool result caught by validation and repaired once."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aios.errors import InvalidPlan, ModelThrottled, ModelTimeout, ProviderError
from aios.plans import Classification, parse_model_json
from aios.providers import ModelRequest, get_provider
from aios.providers.bedrock import BedrockProvider, converse_request
from botocore.stub import ANY, Stubber

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
CLASS = {
    "intent": "billing",
    "urgency": "high",
    "language": "en",
    "risk": "medium",
    "confidence": 0.9,
}


def request(**changes: Any) -> ModelRequest:
    values: dict[str, Any] = {
        "task": "classify",
        "process": "ticket-triage",
        "input": {"subject": "x"},
        "capabilities": ["http.post"],
        "model_id": MODEL,
        "system": "You classify.",
        "prompt": "<case>x</case>",
        "output_schema": Classification.model_json_schema(),
        "max_tokens": 300,
    }
    return ModelRequest(**{**values, **changes})


def tool_answer(
    value: Any, name: str = "submit_classify", input_tokens: int = 812
) -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": name, "input": value}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": 41,
            "totalTokens": input_tokens + 41,
        },
        "metrics": {"latencyMs": 420},
    }


@pytest.fixture
def stubbed():
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield BedrockProvider(client), stubber
        stubber.assert_no_pending_responses()


def test_converse_forces_the_tool_whose_schema_is_the_expected_output(stubbed) -> None:
    provider, stubber = stubbed
    req = request()
    expected = converse_request(req)
    assert expected["toolConfig"]["toolChoice"] == {"tool": {"name": "submit_classify"}}
    assert (
        expected["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"] == req.output_schema
    )
    assert expected["system"] == [{"text": "You classify."}]
    assert expected["inferenceConfig"]["maxTokens"] == 300
    stubber.add_response("converse", tool_answer(CLASS), expected)
    answer = provider.complete(req)
    assert json.loads(answer.text) == CLASS
    assert (answer.model_id, answer.input_tokens, answer.output_tokens) == (MODEL, 812, 41)
    assert parse_model_json(answer.text, Classification).confidence == 0.9


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", ModelThrottled),
        ("ServiceUnavailableException", ModelThrottled),
        ("ModelTimeoutException", ModelTimeout),
        ("AccessDeniedException", ProviderError),
        ("ValidationException", ProviderError),
    ],
)
def test_service_errors_map_to_fallback_or_terminal_errors(stubbed, code: str, error: type) -> None:
    provider, stubber = stubbed
    stubber.add_client_error(
        "converse",
        service_error_code=code,
        http_status_code=429,
        expected_params={
            "modelId": MODEL,
            "messages": ANY,
            "inferenceConfig": ANY,
            "toolConfig": ANY,
            "system": ANY,
        },
    )
    with pytest.raises(error):
        provider.complete(request())


@pytest.mark.parametrize(
    "malformed",
    [
        {**CLASS, "confidence": 7},  # out of range
        {**CLASS, "gate": "auto"},  # a field the output may not carry
        ["billing", "high"],  # not an object
    ],
)
def test_malformed_tool_result_is_rejected_by_validation(stubbed, malformed: Any) -> None:
    provider, stubber = stubbed
    stubber.add_response("converse", tool_answer(malformed), None)
    answer = provider.complete(request())
    with pytest.raises(InvalidPlan):
        parse_model_json(answer.text, Classification)


def test_text_instead_of_the_tool_call_is_passed_on_and_rejected(stubbed) -> None:
    provider, stubber = stubbed
    response = tool_answer(CLASS)
    response["output"]["message"]["content"] = [{"text": "Sure! The ticket is about billing."}]
    response["stopReason"] = "end_turn"
    stubber.add_response("converse", response, None)
    with pytest.raises(InvalidPlan):
        parse_model_json(provider.complete(request()).text, Classification)


def test_decision_through_bedrock_repairs_a_malformed_plan_and_falls_back_on_throttling(
    ledger, kms, plan_key, stubbed
) -> None:
    from aios.planning import decide_case
    from aios.pricing import ModelPrice
    from aios.tiering import ModelConfig

    from tests.unit.test_tiering import GOOD_PLAN, new_case

    provider, stubber = stubbed
    stubber.add_response("converse", tool_answer(CLASS), None)
    stubber.add_client_error(
        "converse", service_error_code="ThrottlingException", http_status_code=429
    )
    stubber.add_response(
        "converse", tool_answer({"summary": "s", "actions": "all of them"}, "submit_plan"), None
    )
    stubber.add_response("converse", tool_answer(GOOD_PLAN, "submit_plan", 1500), None)
    models = ModelConfig(
        provider=provider,
        provider_name="bedrock",
        tiers={"small": (MODEL,), "large": ("big-1", "big-2")},
        prices={
            m: ModelPrice(input_per_mtok=3, output_per_mtok=15) for m in (MODEL, "big-1", "big-2")
        },
        sleep=lambda _s: None,
    )
    decision = decide_case(new_case(), models=models, kms=kms, key_id=plan_key, ttl_seconds=600)
    assert decision.handoff is None and [a.capability for a in decision.actions] == [
        "ledger.update_entity"
    ]
    assert decision.usage["repairs"] == 1 and decision.usage["fallbacks"] == 1
    assert decision.usage["input_tokens"] == 812 + 812 + 1500


def test_get_provider_names_every_provider_and_rejects_others() -> None:
    assert type(get_provider("offline")).__name__ == "OfflineProvider"
    with pytest.raises(ValueError, match="unknown model provider"):
        get_provider("gpt")


PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def cached_answer(value: Any, name: str, read: int, write: int) -> dict[str, Any]:
    answer = tool_answer(value, name, input_tokens=95)
    answer["usage"].update(
        cacheReadInputTokens=read,
        cacheWriteInputTokens=write,
        totalTokens=95 + 41 + read + write,
    )
    return answer


def test_prompt_cache_point_follows_the_static_system_prompt_and_usage_is_split(stubbed) -> None:
    provider, stubber = stubbed
    req = request(model_id=PROFILE, system="You plan. Capabilities: {...}. Schema: {...}")
    expected = converse_request(req)
    # The checkpoint closes the static prefix (tool definition, then the system prompt); the
    # case itself comes after it, in the user message.
    assert expected["system"] == [
        {"text": "You plan. Capabilities: {...}. Schema: {...}"},
        {"cachePoint": {"type": "default"}},
    ]
    assert expected["messages"] == [{"role": "user", "content": [{"text": "<case>x</case>"}]}]
    stubber.add_response("converse", cached_answer(CLASS, "submit_classify", 0, 1800), expected)
    stubber.add_response("converse", cached_answer(CLASS, "submit_classify", 1800, 0), expected)
    first, second = provider.complete(req), provider.complete(req)
    assert (first.input_tokens, first.cache_read_tokens, first.cache_write_tokens) == (95, 0, 1800)
    assert (second.input_tokens, second.cache_read_tokens, second.cache_write_tokens) == (
        95,
        1800,
        0,
    )


def test_cache_tokens_are_priced_at_the_cache_rates() -> None:
    from aios.pricing import ModelPrice
    from aios.providers import ModelResponse
    from aios.providers.offline import OfflineProvider
    from aios.tiering import ModelConfig

    price = ModelPrice(
        input_per_mtok=3.3,
        output_per_mtok=16.5,
        cache_read_per_mtok=0.33,
        cache_write_per_mtok=4.125,
    )
    config = ModelConfig(
        provider=OfflineProvider(),
        provider_name="bedrock",
        tiers={"large": (PROFILE,)},
        prices={PROFILE: price},
    )
    write = ModelResponse(
        text="{}", model_id=PROFILE, input_tokens=95, output_tokens=41, cache_write_tokens=1800
    )
    read = write.model_copy(update={"cache_write_tokens": 0, "cache_read_tokens": 1800})
    plain = write.model_copy(update={"cache_write_tokens": 0, "input_tokens": 95 + 1800})
    assert config.cost(PROFILE, write) == pytest.approx((95 * 3.3 + 41 * 16.5 + 1800 * 4.125) / 1e6)
    assert config.cost(PROFILE, read) == pytest.approx((95 * 3.3 + 41 * 16.5 + 1800 * 0.33) / 1e6)
    assert config.cost(PROFILE, read) < config.cost(PROFILE, plain) < config.cost(PROFILE, write)
    # Without cache rates, cached tokens cost what plain input costs (never less than billed).
    unrated = ModelPrice(input_per_mtok=3.3, output_per_mtok=16.5)
    assert unrated.cost(95, 41, 1800, 0) == pytest.approx(unrated.cost(95 + 1800, 41))


@pytest.mark.parametrize(
    ("model_id", "cached"),
    [
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", True),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", True),
        ("us.amazon.nova-micro-v1:0", True),
        ("amazon.nova-lite-v1:0", True),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0", True),
        ("anthropic.claude-3-haiku-20240307-v1:0", False),  # no prompt caching: no checkpoint
        ("meta.llama3-8b-instruct-v1:0", False),
    ],
)
def test_only_models_with_prompt_caching_get_a_checkpoint(model_id: str, cached: bool) -> None:
    system = converse_request(request(model_id=model_id))["system"]
    assert ({"cachePoint": {"type": "default"}} in system) is cached
    assert system[0] == {"text": "You classify."}


def test_prompt_cache_can_be_turned_off(stubbed) -> None:
    req = request(model_id=PROFILE)
    assert converse_request(req, prompt_cache=False)["system"] == [{"text": "You classify."}]
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        stubber.add_response(
            "converse", tool_answer(CLASS), converse_request(req, prompt_cache=False)
        )
        BedrockProvider(client, prompt_cache=False).complete(req)
        stubber.assert_no_pending_responses()


def test_process_context_joins_the_cached_prefix_and_the_case_stays_after_it() -> None:
    req = request(model_id=PROFILE, process_context="Process context: {...}")
    params = converse_request(req)
    assert params["system"] == [
        {"text": "You classify."},
        {"text": "Process context: {...}"},
        {"cachePoint": {"type": "default"}},
    ]
    assert "Process context" not in json.dumps(params["messages"])
