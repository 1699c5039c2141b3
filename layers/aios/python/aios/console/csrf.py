"""CSRF protection of the console's forms: every POST carries a token the server can check.

- A signed-in form carries `csrf` = HMAC-SHA256(key, username, token id): bound to the person
  and to this sign-in (the ID token's `jti`), so a token from another session or person fails.
- The sign-in form (nobody is signed in yet) carries `<issued-at>.<HMAC(key, issued-at)>`,
  valid for `SIGN_IN_FORM_SECONDS`.
- Every POST must also come from the console's own origin: an `Origin` header naming another
  host, or `Sec-Fetch-Site` other than same-origin, is refused (login CSRF included).

The session cookie is SameSite=Strict on top of this, so a cross-site POST carries no session.
Comparisons are constant-time. The key comes from Secrets Manager (`csrf_key`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aios.errors import CsrfRejected

SIGN_IN_FORM_SECONDS = 30 * 60
FIELD = "csrf"
KEY_MAX_AGE_SECONDS = 300


def _mac(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def session_token(key: bytes, username: str, token_id: str) -> str:
    """The CSRF token of one signed-in session (its ID token's `jti`)."""
    if not key or not username or not token_id:
        raise CsrfRejected("no session to bind a form to")
    return _mac(key, "console-session", username, token_id)


def check_session_token(key: bytes, username: str, token_id: str, given: str | None) -> None:
    """Raises CsrfRejected unless `given` is this session's token."""
    expected = session_token(key, username, token_id)
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRejected("the form's CSRF token is missing or belongs to another session")


def sign_in_token(key: bytes, now: float | None = None) -> str:
    """A token for the sign-in form, valid for SIGN_IN_FORM_SECONDS."""
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_mac(key, 'console-sign-in', issued)}"


def check_sign_in_token(key: bytes, given: str | None, now: float | None = None) -> None:
    """Raises CsrfRejected unless `given` is a fresh sign-in form token."""
    issued, _, mac = (given or "").partition(".")
    if not issued.isdigit() or not key:
        raise CsrfRejected("the sign-in form's CSRF token is missing")
    if not hmac.compare_digest(_mac(key, "console-sign-in", issued).encode(), mac.encode()):
        raise CsrfRejected("the sign-in form's CSRF token is forged")
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= SIGN_IN_FORM_SECONDS:
        raise CsrfRejected("the sign-in form has expired; reload the page")


def check_origin(headers: Mapping[str, str]) -> None:
    """Raises CsrfRejected when the browser says the POST comes from another site."""
    lower = {k.lower(): v for k, v in headers.items()}
    site = lower.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfRejected(f"a {site} form post is refused")
    origin = lower.get("origin")
    if origin is None:
        return
    host = lower.get("host", "")
    if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
        raise CsrfRejected("the form was posted from another origin")


def csrf_key(secret_arn: str) -> bytes:
    """The HMAC key (`csrf_key` of the console secret), cached for five minutes."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    values: Any = get_secret(secret_arn, transform="json", max_age=KEY_MAX_AGE_SECONDS)
    key = str(values.get("csrf_key") or "") if isinstance(values, dict) else ""
    if not key:
        raise RuntimeError("the console secret holds no csrf_key")
    return key.encode()
