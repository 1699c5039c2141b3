"""A console user over HTTP for the end-to-end tests: signs in through the console's own form,
keeps the ID token the cookie carries, reads pages and posts forms with the page's CSRF token.

Also: handing a case off by exhausting its tenant's budget, and tokens the user pool never
issued (forged) or issued long ago (expired).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests

from local.cognito import LocalUser
from tests.local.conftest import wait_for
from tests.local.test_end_to_end import submit

CSRF = re.compile(r"name='csrf' value='([^']+)'")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class ConsoleUser:
    """One signed-in person; `token` is the session cookie's value (the ID token)."""

    def __init__(self, api: str, user: LocalUser) -> None:
        self.api = api
        self.user = user
        self.token = ""
        self.origin = api

    def sign_in(self) -> requests.Response:
        form = requests.get(f"{self.api}/console/sign-in", timeout=10)
        assert form.status_code == 200, form.text
        response = requests.post(
            f"{self.api}/console/sign-in",
            data={
                "csrf": csrf_of(form.text),
                "username": self.user.username,
                "password": self.user.password,
                "next": "",
            },
            headers={"Origin": self.origin},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303, response.text
        self.token = response.headers["Set-Cookie"].split(";")[0]
        return response

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Cookie": self.token, **extra} if self.token else dict(extra)

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(f"{self.api}{path}", params=params, headers=self.headers(), timeout=30)

    def post(
        self, path: str, data: dict[str, str], *, csrf_from: str | None = None, csrf: bool = True
    ) -> requests.Response:
        """POST a form; the CSRF token is read from the page `csrf_from` (default: the case)."""
        body = dict(data)
        if csrf:
            page = self.get(csrf_from or "/console")
            assert page.status_code == 200, page.text
            body["csrf"] = csrf_of(page.text)
        return requests.post(
            f"{self.api}{path}",
            data=body,
            headers=self.headers(Origin=self.origin),
            allow_redirects=False,
            timeout=60,
        )


def user(emulation: Any, role: str) -> LocalUser:
    return next(u for u in emulation.console_users if u.role == role)


def signed_in(emulation: Any, role: str) -> ConsoleUser:
    person = ConsoleUser(emulation.api_url, user(emulation, role))
    person.sign_in()
    return person


def _budget_key(emulation: Any, process: str) -> dict[str, Any]:
    tenant = emulation.deployment.functions["api"].environment.get("AIOS_TENANT", "default")
    day = datetime.now(UTC).date().isoformat()
    return {"item_key": {"S": f"BUDGET#{tenant}#{process}#{day}"}}


@contextmanager
def exhausted_budget(emulation: Any, process: str) -> Iterator[None]:
    """The tenant's daily budget for `process` is spent while the block runs."""
    table = emulation.deployment.functions["decide"].environment["AIOS_DECISION_TABLE"]
    ddb = emulation.client("dynamodb")
    key = _budget_key(emulation, process)
    ddb.put_item(
        TableName=table,
        Item={
            **key,
            "kind": {"S": "budget"},
            "spent_micros": {"N": str(10**12)},
            "spent_tokens": {"N": "0"},
        },
    )
    try:
        yield
    finally:
        ddb.delete_item(TableName=table, Key=key)


def status_of(api: str, case_id: str) -> str:
    return str(requests.get(f"{api}/cases/{case_id}", timeout=10).json()["status"])


def handed_off_case(emulation: Any, process: str, body: dict[str, Any]) -> str:
    """Submit a case while the budget is exhausted; returns it once it waits for a person."""
    with exhausted_budget(emulation, process):
        response = submit(emulation.api_url, process, body)
        assert response.status_code == 202, response.text
        case_id = str(response.json()["case_id"])
        wait_for(
            lambda: status_of(emulation.api_url, case_id) == "HANDED_OFF",
            timeout=60,
            what=f"case {case_id} to be handed off",
        )
    # The case machine's wait has begun once the handlers were told (its last event for now).
    wait_for(
        lambda: "handoff.notified" in audit_types(emulation.api_url, case_id),
        timeout=60,
        what=f"the handlers of case {case_id} to be told",
    )
    return case_id


def audit_types(api: str, case_id: str) -> list[str]:
    events = requests.get(f"{api}/cases/{case_id}/audit", timeout=10).json()["events"]
    return [str(e["type"]) for e in events]


def pool_signed_token(emulation: Any, username: str, expires_in: int) -> str:
    """An ID token the emulated pool signs with its own key (negative `expires_in`: expired)."""
    from moto.cognitoidp.models import cognitoidp_backends

    pool = cognitoidp_backends[emulation.account][emulation.region].user_pools[
        emulation.user_pool_id
    ]
    token, _ = pool.create_jwt(emulation.console_client_id, username, "id", expires_in)
    return str(token)


def forged_token(emulation: Any, username: str, groups: list[str]) -> str:
    """An ID token with every right claim, signed by a key the pool never had."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.{emulation.region}.amazonaws.com/{emulation.user_pool_id}",
        "aud": emulation.console_client_id, "token_use": "id", "sub": "forged",
        "cognito:username": username, "cognito:groups": groups, "jti": "forged",
        "iat": now, "auth_time": now, "exp": now + 3600,
    }  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})
