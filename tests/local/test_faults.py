"""local.faults: the injected KMS/DynamoDB errors are real service answers to the SDK (a real
botocore client parses them into the service's error codes and retries them), and only a
function's requests are ever failed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import BaseWSGIServer, make_server

from local import faults

FUNCTION_AGENT = "Botocore/1.0 exec-env/AWS_Lambda_python_local"


class _NoSleep:
    """botocore.endpoint's `time`: it only sleeps (the backoff between retries)."""

    @staticmethod
    def sleep(seconds: float) -> None:
        pass


def _ok(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
    return [b'{"TableNames": [], "KeyId": "k", "Plaintext": "eA=="}']


@pytest.fixture
def serve() -> Iterator[Callable[[faults.Choose], tuple[str, list[str]]]]:
    """Start `AwsFaults(_ok, choose)` on a free loopback port; yields a starter returning the
    endpoint and the services of the requests that reached the app behind it."""
    servers: list[BaseWSGIServer] = []

    def start(choose: faults.Choose) -> tuple[str, list[str]]:
        reached: list[str] = []

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            reached.append(str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")[0])
            return _ok(environ, start_response)

        server = make_server("127.0.0.1", 0, app, threaded=True)  # as moto's server is made
        faults.install(server, choose)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_port}", reached

    yield start
    for server in servers:
        server.shutdown()


def _client(
    service: str, endpoint: str, monkeypatch: pytest.MonkeyPatch, *, function: bool = True
) -> Any:
    # The SDK's backoff between retries (seconds) is real time this test need not spend.
    monkeypatch.setattr(botocore.endpoint, "time", _NoSleep())
    if function:
        monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python_local")
    else:
        monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        service,
        endpoint_url=endpoint,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )


def _always(name: str) -> faults.Choose:
    return lambda service: next(
        f for f in faults.FAULTS[service] if f.name == name or f.code == name
    )


@pytest.mark.parametrize(
    ("service", "code", "call"),
    [
        ("dynamodb", "ProvisionedThroughputExceededException", lambda c: c.list_tables()),
        ("dynamodb", "ThrottlingException", lambda c: c.list_tables()),
        ("dynamodb", "InternalServerError", lambda c: c.list_tables()),
        ("kms", "ThrottlingException", lambda c: c.decrypt(CiphertextBlob=b"x")),
        ("kms", "KMSInternalException", lambda c: c.decrypt(CiphertextBlob=b"x")),
    ],
)
def test_a_persistent_fault_reaches_the_handler_as_the_service_error_after_the_sdk_retries(
    serve: Any, monkeypatch: pytest.MonkeyPatch, service: str, code: str, call: Any
) -> None:
    asked: list[str] = []

    def choose(s: str) -> faults.Fault:
        asked.append(s)
        return _always(code)(s)

    endpoint, reached = serve(choose)
    with pytest.raises(ClientError) as raised:
        call(_client(service, endpoint, monkeypatch))
    error = raised.value.response
    assert error["Error"]["Code"] == code
    retries = error["ResponseMetadata"]["RetryAttempts"]
    assert retries >= 2 and asked == [service] * (retries + 1)  # the SDK retried it
    assert reached == []  # never served: nothing applied


def test_a_transient_fault_is_absorbed_by_the_sdk_retries(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = [faults.FAULTS["dynamodb"][0], faults.FAULTS["dynamodb"][2]]
    endpoint, reached = serve(lambda s: left.pop(0) if left else None)
    answer = _client("dynamodb", endpoint, monkeypatch).list_tables()
    assert answer["TableNames"] == [] and answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert reached == ["DynamoDB_20120810"]


def test_only_a_functions_kms_and_dynamodb_requests_are_failed(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    endpoint, reached = serve(lambda s: asked.append(s))  # type: ignore[func-returns-value]
    _client("dynamodb", endpoint, monkeypatch, function=False).list_tables()  # a test's own
    assert asked == [] and reached == ["DynamoDB_20120810"]
    _client("dynamodb", endpoint, monkeypatch).list_tables()
    assert asked == ["dynamodb"]
    interpreter = {
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
        "HTTP_USER_AGENT": FUNCTION_AGENT,
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=ak/20261201/us-east-1/dynamodb/aws4",
    }
    assert faults.service_of(interpreter) is None  # Step Functions' own service integrations
    other = {"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage", "HTTP_USER_AGENT": FUNCTION_AGENT}
    assert faults.service_of(other) is None
    assert faults.service_of({**other, "HTTP_X_AMZ_TARGET": "TrentService.Sign"}) == "kms"


def test_install_wraps_the_servers_app_and_uninstall_restores_it() -> None:
    class Server:
        app = staticmethod(_ok)

    server = Server()
    uninstall = faults.install(server, lambda s: None)
    assert isinstance(server.app, faults.AwsFaults)
    uninstall()
    assert server.app is _ok
    assert faults.KINDS == ("dynamodb_5xx", "dynamodb_throttle", "kms_5xx", "kms_throttle")
