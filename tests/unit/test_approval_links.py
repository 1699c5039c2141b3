"""Link tokens and Slack signatures: forged, foreign, expired and stale inputs are refused."""

from __future__ import annotations

import pytest
from aios.approvals import LinkExpired, LinkForbidden, link_token, verify_link_token
from aios.slack import SlackSignatureInvalid, sign, verify_signature
from hypothesis import given
from hypothesis import strategies as st

KEY = b"k" * 32


def test_a_token_names_its_approver_until_it_expires() -> None:
    token = link_token(KEY, "c-1.p1.a0", "finance-lead", 2000)
    assert verify_link_token(KEY, "c-1.p1.a0", token, now=1999) == "finance-lead"
    with pytest.raises(LinkExpired):
        verify_link_token(KEY, "c-1.p1.a0", token, now=2000)


@given(st.text(min_size=1, max_size=40))
def test_a_token_never_opens_another_approval(other: str) -> None:
    token = link_token(KEY, "c-1.p1.a0", "finance-lead", 2000)
    if other != "c-1.p1.a0":
        with pytest.raises(LinkForbidden):
            verify_link_token(KEY, other, token, now=0)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("finance-lead", "cfo"),
        lambda t: t.replace(".2000.", ".9999."),
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "garbage",
    ],
)
def test_a_tampered_token_is_forbidden_even_when_expired(tamper) -> None:  # type: ignore[no-untyped-def]
    token = tamper(link_token(KEY, "c-1.p1.a0", "finance-lead", 2000))
    with pytest.raises(LinkForbidden):
        verify_link_token(KEY, "c-1.p1.a0", token, now=5000)


def test_slack_signature_is_checked_with_a_five_minute_window() -> None:
    body = "payload=%7B%7D"
    verify_signature("s3cret", "1000", sign("s3cret", "1000", body), body, now=1200)
    with pytest.raises(SlackSignatureInvalid, match="stale"):
        verify_signature("s3cret", "1000", sign("s3cret", "1000", body), body, now=1301)
    with pytest.raises(SlackSignatureInvalid, match="bad"):
        verify_signature("s3cret", "1000", sign("other", "1000", body), body, now=1000)
    with pytest.raises(SlackSignatureInvalid):
        verify_signature("s3cret", None, None, body, now=1000)
