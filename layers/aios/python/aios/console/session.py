"""Signing in to the console: the user pool checks the password, the ID token is the session.

The console's own form posts the username and password to the console function, which asks
Cognito (`InitiateAuth`, `USER_PASSWORD_AUTH`, over TLS; the password is never stored or
logged). A first sign-in with a temporary password answers the `NEW_PASSWORD_REQUIRED`
challenge (`RespondToAuthChallenge`). The ID token goes into the one cookie the console sets:
it has no name, so the browser's `Cookie` header is the token itself, which is what API
Gateway's Cognito authorizer reads (identity source `Cookie`). The cookie is HttpOnly, Secure,
SameSite=Strict, for the whole API host, and expires with the token.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from aios import aws
from aios.errors import SignInFailed

COOKIE_ATTRIBUTES = "Path=/; HttpOnly; Secure; SameSite=Strict"
MAX_FIELD_CHARS = 256


class SignedIn(BaseModel):
    """Cognito's answer to good credentials: the ID token and its lifetime."""

    model_config = ConfigDict(frozen=True)

    id_token: str
    expires_in: int


class NewPasswordRequired(BaseModel):
    """A first sign-in: the person must choose a password; `session` continues the flow."""

    model_config = ConfigDict(frozen=True)

    username: str
    session: str


def _answer(result: dict[str, Any], username: str) -> SignedIn | NewPasswordRequired:
    tokens = result.get("AuthenticationResult")
    if tokens and tokens.get("IdToken"):
        return SignedIn(id_token=tokens["IdToken"], expires_in=int(tokens.get("ExpiresIn", 3600)))
    if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        return NewPasswordRequired(username=username, session=str(result["Session"]))
    raise SignInFailed(f"sign-in needs {result.get('ChallengeName')}, which the console lacks")


def _cognito_call(call: Any, **kwargs: Any) -> dict[str, Any]:
    cognito = aws.client("cognito-idp")
    try:
        return dict(call(cognito, **kwargs))
    except (
        cognito.exceptions.NotAuthorizedException,
        cognito.exceptions.UserNotFoundException,
        cognito.exceptions.InvalidPasswordException,
        cognito.exceptions.InvalidParameterException,
        cognito.exceptions.CodeMismatchException,
    ) as exc:
        message = exc.response.get("Error", {}).get("Message") or "incorrect username or password"
        raise SignInFailed(str(message)) from exc


def sign_in(client_id: str, username: str, password: str) -> SignedIn | NewPasswordRequired:
    """Check the credentials with the user pool; raises SignInFailed."""
    if not username or not password:
        raise SignInFailed("enter a username and a password")
    if len(username) > MAX_FIELD_CHARS or len(password) > MAX_FIELD_CHARS:
        raise SignInFailed("incorrect username or password")
    result = _cognito_call(
        lambda c, **kw: c.initiate_auth(**kw),
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return _answer(result, username)


def set_new_password(
    client_id: str, username: str, session: str, new_password: str
) -> SignedIn | NewPasswordRequired:
    """Answer NEW_PASSWORD_REQUIRED; raises SignInFailed (e.g. a password the policy refuses)."""
    if not new_password or len(new_password) > MAX_FIELD_CHARS:
        raise SignInFailed("choose a new password")
    result = _cognito_call(
        lambda c, **kw: c.respond_to_auth_challenge(**kw),
        ClientId=client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=session,
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password},
    )
    return _answer(result, username)


def session_cookie(signed_in: SignedIn) -> str:
    """The Set-Cookie value holding the ID token (no name: the header is the token)."""
    if any(c in signed_in.id_token for c in ";, =\r\n"):
        raise SignInFailed("the user pool answered with a malformed token")
    return f"{signed_in.id_token}; Max-Age={signed_in.expires_in}; {COOKIE_ATTRIBUTES}"


def cleared_cookie() -> str:
    """The Set-Cookie value that removes the session cookie."""
    return f"signed-out; Max-Age=0; {COOKIE_ATTRIBUTES}"


def safe_next(base: str, next_path: str) -> str:
    """Where to go after signing in: a console path only (never another site), else the queues."""
    if next_path.startswith(f"{base}/") and "//" not in next_path and "\\" not in next_path:
        return next_path
    return base
