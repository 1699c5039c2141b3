"""The console's pure parts: CSRF tokens and origin checks, claims, forms from JSON schemas,
escaping and the session cookie."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aios.capabilities.email_send import EmailParams
from aios.capabilities.http_post import HttpPostParams
from aios.console import csrf, forms, identity, markup, session
from aios.errors import CsrfRejected, InvalidInput, SignInFailed
from hypothesis import given
from hypothesis import strategies as st

KEY = b"k" * 32


def test_session_token_is_bound_to_person_and_sign_in() -> None:
    token = csrf.session_token(KEY, "ana", "jti-1")
    csrf.check_session_token(KEY, "ana", "jti-1", token)
    for user, jti, key in (("bob", "jti-1", KEY), ("ana", "jti-2", KEY), ("ana", "jti-1", b"x")):
        with pytest.raises(CsrfRejected):
            csrf.check_session_token(key, user, jti, token)
    for given_token in (None, "", token[:-1], token + "A"):
        with pytest.raises(CsrfRejected):
            csrf.check_session_token(KEY, "ana", "jti-1", given_token)


def test_sign_in_token_expires_and_cannot_be_forged() -> None:
    token = csrf.sign_in_token(KEY, now=1_000_000)
    csrf.check_sign_in_token(KEY, token, now=1_000_000 + csrf.SIGN_IN_FORM_SECONDS)
    with pytest.raises(CsrfRejected, match="expired"):
        csrf.check_sign_in_token(KEY, token, now=1_000_001 + csrf.SIGN_IN_FORM_SECONDS)
    issued, _, mac = token.partition(".")
    with pytest.raises(CsrfRejected, match="forged"):
        csrf.check_sign_in_token(KEY, f"{int(issued) + 1000}.{mac}", now=1_000_000)
    with pytest.raises(CsrfRejected):
        csrf.check_sign_in_token(KEY, None)


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"Host": "api.example.com"}, True),
        ({"Host": "api.example.com", "Origin": "https://api.example.com"}, True),
        ({"Host": "api.example.com", "Origin": "https://evil.example"}, False),
        ({"Host": "api.example.com", "Origin": "null"}, False),
        ({"Host": "api.example.com", "Sec-Fetch-Site": "same-origin"}, True),
        ({"Host": "api.example.com", "Sec-Fetch-Site": "cross-site"}, False),
        ({"host": "api.example.com", "sec-fetch-site": "same-site"}, False),
    ],
)
def test_posts_from_another_origin_are_refused(headers: dict[str, str], ok: bool) -> None:
    if ok:
        csrf.check_origin(headers)
    else:
        with pytest.raises(CsrfRejected):
            csrf.check_origin(headers)


@pytest.mark.parametrize(
    "value", ["operator,approver:refund-request", "[operator approver:refund-request]",
              ["operator", "approver:refund-request"]],
)  # fmt: skip
def test_groups_parse_in_every_encoding(value: Any) -> None:
    assert identity.parse_groups(value) == {"operator", "approver:refund-request"}


def test_claims_without_a_username_or_token_id_are_no_session() -> None:
    claims = {"cognito:username": "ana", "jti": "j", "email": "a@x.io", "cognito:groups": "admin"}
    s = identity.session_from_claims(claims)
    assert (s.username, s.email, s.groups, s.token_id) == ("ana", "a@x.io", {"admin"}, "j")
    for missing in ("cognito:username", "jti"):
        with pytest.raises(SignInFailed):
            identity.session_from_claims({k: v for k, v in claims.items() if k != missing})


@given(st.text())
def test_escaping_leaves_no_markup(text: str) -> None:
    out = markup.esc(text)
    assert not any(c in out for c in "<>\"'")


def test_http_post_form_round_trips_with_a_json_body() -> None:
    schema = HttpPostParams.model_json_schema()
    html = forms.fields(schema)
    for name in ("p.target", "p.path", "p.body"):
        assert f"name='{name}'" in html
    posted = {"p.target": "helpdesk", "p.path": "/tickets/T-1/reply", "p.body": '{"a": 1}'}
    params = forms.params_from_form(schema, posted)
    assert params == {"target": "helpdesk", "path": "/tickets/T-1/reply", "body": {"a": 1}}
    HttpPostParams.model_validate(params)


def test_email_form_lists_one_per_line_and_leaves_out_empty_optionals() -> None:
    schema = EmailParams.model_json_schema()
    posted = {"p.to": "a@x.io\n\n b@x.io ", "p.subject": "Hi", "p.text": "Body", "p.html": ""}
    params = forms.params_from_form(schema, posted)
    assert params == {"to": ["a@x.io", "b@x.io"], "subject": "Hi", "text": "Body"}
    EmailParams.model_validate(params)


def test_nested_objects_refs_and_typed_leaves() -> None:
    schema = {
        "type": "object",
        "required": ["refund"],
        "properties": {"refund": {"$ref": "#/$defs/Refund"}, "notify": {"type": "boolean"}},
        "$defs": {
            "Refund": {
                "type": "object",
                "required": ["amount", "currency"],
                "properties": {
                    "amount": {"type": "number", "minimum": 0},
                    "count": {"type": "integer"},
                    "currency": {"enum": ["EUR", "USD"]},
                    "memo": {"anyOf": [{"type": "string", "maxLength": 50}, {"type": "null"}]},
                },
            }
        },
    }
    html = forms.fields(schema)
    assert "name='p.refund.amount'" in html and "min='0'" in html
    assert "<select id='p.refund.currency'" in html
    posted = {"p.refund.amount": "12.5", "p.refund.count": "3", "p.refund.currency": "EUR",
              "p.refund.memo": "", "p.notify": "true"}  # fmt: skip
    assert forms.params_from_form(schema, posted) == {
        "refund": {"amount": 12.5, "count": 3, "currency": "EUR"},
        "notify": True,
    }
    with pytest.raises(InvalidInput) as bad:
        forms.params_from_form(schema, {**posted, "p.refund.count": "three"})
    assert bad.value.details["field"] == "refund.count"
    with pytest.raises(InvalidInput) as bad_json:
        forms.params_from_form(HttpPostParams.model_json_schema(), {"p.body": "{not json"})
    assert bad_json.value.details["field"] == "body"


def test_form_values_are_escaped() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string", "maxLength": 9,
              "default": "'><script>", "title": "<b>"}}}  # fmt: skip
    html = forms.fields(schema)
    assert "<script>" not in html and "<b>" not in html


def test_session_cookie_is_the_token_alone_httponly_secure_strict() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    cookie = session.session_cookie(session.SignedIn(id_token=token, expires_in=3600))
    first, *attributes = [part.strip() for part in cookie.split(";")]
    assert first == token
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=3600"} <= set(attributes)
    cleared = session.cleared_cookie()
    assert "Max-Age=0" in cleared and "=" not in cleared.split(";")[0]
    with pytest.raises(SignInFailed):
        session.session_cookie(session.SignedIn(id_token="a=b; c", expires_in=1))


def test_pages_carry_a_strict_content_security_policy() -> None:
    csp = markup.HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    doc = markup.page("T", "<p>x</p>", base="/console", signed_in_as="<ana>", csrf="tok")
    assert "&lt;ana&gt;" in doc and "name='csrf' value='tok'" in doc
    assert json.dumps(markup.HEADERS)
