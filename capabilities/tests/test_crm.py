"""`crm.update_contact` against a CRM on loopback: what it sends, what it keeps, how it fails.

The peer is a small in-test CRM (http.server on 127.0.0.1) holding one contact; the secret is
read through the capability's role from moto's Secrets Manager (STS is moto's too), exactly
as the execute function reads it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))  # the kit's library (its layer)
sys.path.insert(0, str(ROOT))

from aios.capabilities import ActionContext  # noqa: E402
from aios.errors import InvalidParams, RetryableActionError, TerminalActionError  # noqa: E402
from aios.settings import Settings  # noqa: E402

from capabilities.crm import CAPABILITY, CrmConfig  # noqa: E402

API_KEY = "k-test-123"


class FakeCrm:
    """One contact, the requests it got, and an optional status to answer next."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {"phone": "+1 555 0100", "name": "Ana"}
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                crm.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    return self._answer(401, {"error": "unauthorized"})
                if crm.fail_with:
                    return self._answer(crm.fail_with, {"error": "injected"})
                if self.path != "/api/contacts/C-1001":
                    return self._answer(404, {"error": "no such contact"})
                if self.command == "PATCH":
                    crm.fields.update(body["fields"])
                self._answer(200, {"contact_id": "C-1001", "fields": crm.fields})

            do_GET = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def crm() -> Iterator[FakeCrm]:
    peer = FakeCrm()
    yield peer
    peer.server.shutdown()


@pytest.fixture
def ctx(crm: FakeCrm) -> Iterator[ActionContext]:
    import boto3
    from aios import secrets
    from moto import mock_aws

    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    old = {k: os.environ.get(k) for k in [*env, "AWS_ENDPOINT_URL"]}
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from aios import aws as aios_aws

    aios_aws.client.cache_clear()
    secrets._cache.clear()
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="crm", SecretString=json.dumps({"api_key": API_KEY})
        )["ARN"]
        settings = Settings.model_validate(
            {
                "AIOS_CAPABILITY_ROLES": json.dumps(
                    {"crm.update_contact": "arn:aws:iam::123456789012:role/crm"}
                ),
                "AIOS_CAPABILITY_SECRETS": json.dumps({"crm.update_contact": arn}),
                "AIOS_CAPABILITY_CONFIG": json.dumps({"crm.update_contact": {"base_url": crm.url}}),
            }
        )
        yield ActionContext(
            case_id="c-1",
            action_id="c-1.p1.a0",
            entity_key="contact#C-1001",
            settings=settings,
            capability="crm.update_contact",
        )
    aios_aws.client.cache_clear()
    secrets._cache.clear()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_update_sends_the_key_and_the_action_id_and_keeps_the_previous_values(
    crm: FakeCrm, ctx: ActionContext
) -> None:
    params = CAPABILITY.validate_params({"contact_id": "C-1001", "fields": {"phone": "+49 30 1"}})
    result = CAPABILITY.execute(params, ctx)
    assert result == {
        "contact_id": "C-1001",
        "updated": ["phone"],
        "previous": {"phone": "+1 555 0100"},
    }
    get, patch = crm.requests
    assert get["method"] == "GET" and "Idempotency-Key" not in get["headers"]
    assert patch["method"] == "PATCH" and patch["body"] == {"fields": {"phone": "+49 30 1"}}
    assert patch["headers"]["Idempotency-Key"] == "c-1.p1.a0"
    assert patch["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert crm.fields["phone"] == "+49 30 1"


def test_compensation_restores_the_previous_values(crm: FakeCrm, ctx: ActionContext) -> None:
    params = CAPABILITY.validate_params({"contact_id": "C-1001", "fields": {"phone": "+49 30 1"}})
    applied = CAPABILITY.execute(params, ctx)
    assert CAPABILITY.compensate is not None
    undone = CAPABILITY.compensate(params, ctx, applied)
    assert undone == {"contact_id": "C-1001", "restored": {"phone": "+1 555 0100"}}
    assert crm.fields == {"phone": "+1 555 0100", "name": "Ana"}
    assert crm.requests[-1]["headers"]["Idempotency-Key"] == "c-1.p1.a0.undo"


def test_read_state_returns_the_contact(crm: FakeCrm, ctx: ActionContext) -> None:
    assert CAPABILITY.read_state is not None
    params = CAPABILITY.validate_params({"contact_id": "C-1001", "fields": {"name": "Ana B"}})
    assert CAPABILITY.read_state(params, ctx) == {
        "contact_id": "C-1001",
        "fields": {"phone": "+1 555 0100", "name": "Ana"},
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, RetryableActionError), (429, RetryableActionError), (422, TerminalActionError)],
)
def test_failures_are_classified_by_status(
    crm: FakeCrm, ctx: ActionContext, status: int, error: type[Exception]
) -> None:
    crm.fail_with = status
    params = CAPABILITY.validate_params({"contact_id": "C-1001", "fields": {"phone": "+49 30 1"}})
    with pytest.raises(error):
        CAPABILITY.execute(params, ctx)


def test_params_refuse_unknown_fields_and_bad_ids() -> None:
    for bad in (
        {"contact_id": "C-1", "fields": {"password": "x"}},
        {"contact_id": "../admin", "fields": {"phone": "1"}},
        {"contact_id": "C-1", "fields": {}},
        {"contact_id": "C-1", "fields": {"name": "a\r\nX-Injected: 1"}},
    ):
        with pytest.raises(InvalidParams):
            CAPABILITY.validate_params(bad)


def test_the_base_url_must_be_https_outside_loopback() -> None:
    assert (
        CrmConfig(base_url="https://crm.example.com/api/").base_url == "https://crm.example.com/api"
    )
    for bad in ("http://crm.example.com", "ftp://crm.example.com", "https://"):
        with pytest.raises(ValueError):
            CrmConfig(base_url=bad)
