"""Who is signed in: the claims API Gateway's Cognito authorizer verified and passed on.

The console function never reads the token itself: API Gateway (locally, the emulation's API
server) verified it and put its claims under `requestContext.authorizer.claims`, every value a
string. `cognito:groups` arrives comma-separated (REST APIs), or bracketed and
space-separated (`[a b]`, HTTP APIs), or as a list (tests); all three parse the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from aios.errors import SignInFailed
from aios.operator import Operator

_GROUP = re.compile(r"^[\w:.@+=,-]{1,128}$")


class Session(BaseModel):
    """The signed-in person and the id of the token they signed in with."""

    model_config = ConfigDict(frozen=True)

    username: str
    email: str
    groups: frozenset[str]
    token_id: str


def parse_groups(value: Any) -> frozenset[str]:
    """The group names of a `cognito:groups` claim in any of its encodings."""
    if isinstance(value, list | tuple | set | frozenset):
        names = [str(v) for v in value]
    else:
        text = str(value or "").strip()
        bracketed = text.startswith("[") and text.endswith("]")
        names = text[1:-1].split() if bracketed else text.split(",")
    return frozenset(n.strip() for n in names if _GROUP.match(n.strip()))


def session_from_claims(claims: Mapping[str, Any] | None) -> Session:
    """The session of verified claims; raises SignInFailed when there is no usable identity
    (a route behind the authorizer always has one, so this only guards misconfiguration)."""
    claims = claims or {}
    username = str(claims.get("cognito:username") or "")
    token_id = str(claims.get("jti") or claims.get("origin_jti") or "")
    if not username or not token_id:
        raise SignInFailed("the request carries no signed-in identity")
    return Session(
        username=username,
        email=str(claims.get("email") or ""),
        groups=parse_groups(claims.get("cognito:groups")),
        token_id=token_id,
    )


def operator_of(session: Session) -> Operator:
    """The person as the operator library knows them."""
    return Operator(username=session.username, email=session.email or None, groups=session.groups)
