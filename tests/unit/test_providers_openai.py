"""The OpenAI-compatible provider against a loopback fake of chat completions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from aios.errors import ModelThrottled, ModelTimeout, ProviderError
from aios.plans import Classification
from aios.providers import ModelRequest, get_provider

CLASS = {
    "intent": "billing",
    "urgency": "high",
    "language": "en",
    "risk": "medium",
    "confidence": 0.9,
}


class Fake:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, Any]] = []
        self.url = ""


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            status, reply = state.replies.pop(0) if state.replies else (200, None)
            if reply is None:
                reply = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": json.dumps(CLASS)},
                        }
                    ],
                    "usage": {"prompt_tokens": 321, "completion_tokens": 33, "total_tokens": 354},
                }
            raw = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/v1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()


def request() -> ModelRequest:
    return ModelRequest(
        task="classify",
        process="ticket-triage",
        input={},
        capabilities=[],
        model_id="llama-3-8b",
        system="You classify.",
        prompt="<case>x</case>",
        output_schema=Classification.model_json_schema(),
        max_tokens=200,
    )


@pytest.fixture
def secret(aws: None) -> str:
    from aws_lambda_powertools.utilities.parameters import base

    base.DEFAULT_PROVIDERS.clear()
    sm = boto3.client("secretsmanager")
    return str(
        sm.create_secret(Name="model-key", SecretString=json.dumps({"api_key": "sk-local"}))["ARN"]
    )


def test_chat_completion_with_key_from_secrets_manager_and_json_schema(
    fake: Fake, secret: str
) -> None:
    provider = get_provider("openai", base_url=fake.url, secret_arn=secret)
    answer = provider.complete(request())
    [sent] = fake.requests
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-local"
    body = sent["body"]
    assert body["model"] == "llama-3-8b" and body["max_tokens"] == 200
    assert body["messages"] == [
        {"role": "system", "content": "You classify."},
        {"role": "user", "content": "<case>x</case>"},
    ]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Classification.model_json_schema()
    assert json.loads(answer.text) == CLASS
    assert (answer.input_tokens, answer.output_tokens) == (321, 33)


@pytest.mark.parametrize(
    ("status", "error"), [(429, ModelThrottled), (503, ModelThrottled), (401, ProviderError)]
)
def test_http_errors_map_to_fallback_or_terminal_errors(
    fake: Fake, status: int, error: type
) -> None:
    fake.replies.append((status, {"error": {"message": "no"}}))
    with pytest.raises(error):
        get_provider("openai", base_url=fake.url, api_key="k").complete(request())


def test_malformed_response_is_a_provider_error(fake: Fake) -> None:
    fake.replies.append((200, b"<html>gateway</html>"))
    with pytest.raises(ProviderError, match="malformed"):
        get_provider("openai", base_url=fake.url, api_key="k").complete(request())


def test_unreachable_endpoint_is_a_timeout_for_the_fallback_chain() -> None:
    import socket

    # A port held bound but not listening refuses connections, and no other process (tests
    # run in parallel on the machine) can start listening on it meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        provider = get_provider("openai", base_url=f"http://127.0.0.1:{port}", api_key="k")
        with pytest.raises((ModelTimeout, ModelThrottled)):
            provider.complete(request())


def test_secret_without_a_key_is_refused(fake: Fake, aws: None) -> None:
    from aws_lambda_powertools.utilities.parameters import base

    base.DEFAULT_PROVIDERS.clear()
    arn = boto3.client("secretsmanager").create_secret(Name="empty", SecretString="{}")["ARN"]
    with pytest.raises(ProviderError, match="api_key"):
        get_provider("openai", base_url=fake.url, secret_arn=arn).complete(request())
    assert fake.requests == []


def test_cached_prompt_tokens_are_reported_apart_and_the_static_prefix_comes_first(
    fake: Fake,
) -> None:
    reply = {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(CLASS)}}],
        "usage": {
            "prompt_tokens": 2006,
            "completion_tokens": 33,
            "total_tokens": 2039,
            "prompt_tokens_details": {"cached_tokens": 1920},
        },
    }
    fake.replies.append((200, reply))
    answer = get_provider("openai", base_url=fake.url, api_key="k").complete(request())
    # prompt_tokens includes the cached ones: the rest is billed as input, 1920 as cache reads.
    assert (answer.input_tokens, answer.cache_read_tokens, answer.cache_write_tokens) == (
        86,
        1920,
        0,
    )
    body = fake.requests[0]["body"]
    assert body["messages"][0] == {"role": "system", "content": "You classify."}
    assert body["prompt_cache_key"] == "aios:ticket-triage:classify"


def test_usage_without_cache_details_counts_every_prompt_token_as_input(fake: Fake) -> None:
    answer = get_provider("openai", base_url=fake.url, api_key="k").complete(request())
    assert (answer.input_tokens, answer.cache_read_tokens) == (321, 0)
