"""Signed link tokens: one per approver, valid for one approval until its level's deadline.

A token is `<approver>.<expires>.<mac>`, the MAC an HMAC-SHA256 over (approval id, approver,
expiry) with the approvals secret's link key. The task token the case waits on is never in a link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from aios.errors import LinkExpired, LinkForbidden


def _mac(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    message = f"aios-approval-v1\n{approval_id}\n{approver}\n{expires}".encode()
    return (
        base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest())
        .decode()
        .rstrip("=")
    )


def link_token(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """The token of one approver's link: valid for this approval only, until `expires`."""
    return f"{approver}.{expires}.{_mac(key, approval_id, approver, expires)}"


def verify_link_token(key: bytes, approval_id: str, token: str, now: float | None = None) -> str:
    """The approver the token names; LinkForbidden if forged or not for this approval,
    LinkExpired once its expiry has passed (checked after the MAC, so expiry is authentic)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise LinkForbidden("the link is not valid")
    approver, expires_text, mac = parts
    expected = _mac(key, approval_id, approver, int(expires_text))
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise LinkForbidden("the link is not valid for this approval")
    if (time.time() if now is None else now) >= int(expires_text):
        raise LinkExpired("the link has expired")
    return approver


def link_for(base_url: str, key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """The approver's page URL, carrying their token."""
    token = link_token(key, approval_id, approver, expires)
    return f"{base_url.rstrip('/')}/approvals/{approval_id}?t={token}"
