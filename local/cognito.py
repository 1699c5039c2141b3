"""The emulated Cognito side of the API: the user pool authorizer and the local console users.

`CognitoAuthorizer` does what API Gateway's COGNITO_USER_POOLS authorizer does before a method
runs, with no bypass: it reads the token from the authorizer's identity-source header, checks
the RS256 signature against the pool's JWKS (moto's server serves
`/<pool id>/.well-known/jwks.json`), the issuer (`https://cognito-idp.<region>.amazonaws.com/<pool
id>`), the audience (an app client of that pool), `token_use` = `id` and the expiry. A request
that fails any check is refused with API Gateway's 401 `{"message": "Unauthorized"}` and never
reaches the function. The claims reach it as `requestContext.authorizer.claims`, every value a
string as on AWS: lists (`cognito:groups`) comma-joined, `exp` / `iat` as dates.

`seed_users` creates one confirmed user per console role with a generated password.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from local.assembly import CognitoAuthorizerSpec

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"


class Unauthorized(Exception):
    """The request carries no token the authorizer accepts (API Gateway answers 401)."""


class CognitoAuthorizer:
    """Verifies ID tokens of the spec's user pools; see the module docstring."""

    def __init__(
        self,
        spec: CognitoAuthorizerSpec,
        *,
        region: str,
        jwks_url: Callable[[str], str],
        clients: Mapping[str, Iterable[str]],
    ) -> None:
        self.spec = spec
        self.issuers = {
            f"https://cognito-idp.{region}.amazonaws.com/{pool}": pool for pool in spec.user_pools
        }
        self.audiences = {pool: tuple(clients.get(pool, ())) for pool in spec.user_pools}
        self._jwks_url = jwks_url
        self._keys: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def claims(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The verified token's claims as API Gateway passes them; raises Unauthorized."""
        wanted = self.spec.header.lower()
        token = next((v for k, v in headers.items() if k.lower() == wanted), "").strip()
        if not token:
            raise Unauthorized(f"no {self.spec.header} header")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            pool = self.issuers.get(str(unverified.get("iss")))
            if pool is None:
                raise Unauthorized("issued by another user pool")
            key = self._key_client(pool).get_signing_key_from_jwt(token)
            payload: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=list(self.audiences[pool]),
                issuer=next(iss for iss, p in self.issuers.items() if p == pool),
                options={"require": ["exp", "iat", "iss", "aud", "token_use", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from exc
        if payload.get("token_use") != "id":
            raise Unauthorized("not an ID token")
        return {name: _claim(name, value) for name, value in payload.items()}

    def _key_client(self, pool: str) -> jwt.PyJWKClient:
        with self._lock:
            if pool not in self._keys:
                self._keys[pool] = jwt.PyJWKClient(self._jwks_url(pool), cache_keys=True)
            return self._keys[pool]


def _claim(name: str, value: Any) -> str:
    """One claim as API Gateway's REST Cognito authorizer passes it: a string."""
    if name in ("exp", "iat") and isinstance(value, int):
        return datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class LocalUser:
    """A console user of the emulation, printed by `aios local up`."""

    role: str
    username: str
    email: str
    password: str


# One user per role. The approver's address is the sample refund process's finance lead, so
# the console maps them to that process's approver `finance-lead`.
LOCAL_USERS = (
    ("operator", "operator", "operator@example.com"),
    ("approver", "approver", "lead@finance.example.com"),
    ("admin", "admin", "admin@example.com"),
)


def new_password() -> str:
    """A random password meeting the pool's policy (12+ chars, all four character classes)."""
    return f"{secrets.token_urlsafe(12)}-Aa1"


def create_user(
    cognito: Any, pool_id: str, username: str, email: str, groups: Iterable[str]
) -> LocalUser:
    """A confirmed user with a permanent random password, in `groups`."""
    password = new_password()
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        MessageAction="SUPPRESS",
        TemporaryPassword=new_password(),
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=password, Permanent=True
    )
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return LocalUser(role=",".join(groups), username=username, email=email, password=password)


def seed_users(cognito: Any, pool_id: str) -> list[LocalUser]:
    """One user per console role in the pool (the groups come from the template)."""
    return [
        create_user(cognito, pool_id, username, email, [role])
        for role, username, email in LOCAL_USERS
    ]
