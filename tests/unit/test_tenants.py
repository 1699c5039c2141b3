"""The caller's tenant: its IAM principal's `aios:tenant` tag, or its API key's usage plan."""

from __future__ import annotations

import pytest
from aios.errors import TenantUnknown
from aios.tenants import Caller, _principal, entity_tenant, scoped_entity_key, tenant_of

TAGS = {
    "arn:aws:iam::111122223333:user/alice": {"aios:tenant": "acme"},
    "arn:aws:sts::111122223333:assumed-role/Globex/session-1": {"aios:tenant": "globex"},
    "arn:aws:iam::111122223333:user/bob": {"team": "ops"},
    "arn:aws:iam::111122223333:user/mallory": {"aios:tenant": "../other"},
}


def tags(arn: str) -> dict[str, str]:
    return TAGS.get(arn, {})


def test_an_iam_caller_is_the_tenant_its_principal_is_tagged_with() -> None:
    for arn, tenant in (
        ("arn:aws:iam::111122223333:user/alice", "acme"),
        ("arn:aws:sts::111122223333:assumed-role/Globex/session-1", "globex"),
    ):
        assert tenant_of(Caller(principal_arn=arn), api_keys=None, tags=tags) == tenant


@pytest.mark.parametrize(
    "caller",
    [
        Caller(),
        Caller(principal_arn="arn:aws:iam::111122223333:user/bob"),
        Caller(principal_arn="arn:aws:iam::111122223333:user/mallory"),
        Caller(api_key_id="k-acme"),  # an API key means nothing under IAM auth
    ],
)
def test_a_caller_without_a_valid_tenant_tag_is_refused(caller: Caller) -> None:
    with pytest.raises(TenantUnknown):
        tenant_of(caller, api_keys=None, tags=tags)


def test_under_api_keys_only_the_key_counts() -> None:
    keys = {"k-acme": "acme", "k-globex": "globex"}
    assert tenant_of(Caller(api_key_id="k-globex"), api_keys=keys, tags=tags) == "globex"
    alice = Caller(principal_arn="arn:aws:iam::111122223333:user/alice", api_key_id="k-x")
    with pytest.raises(TenantUnknown):
        tenant_of(alice, api_keys=keys, tags=tags)


def test_principals_are_read_from_user_role_and_session_arns() -> None:
    assert _principal("arn:aws:iam::1:user/path/alice") == ("user", "alice")
    assert _principal("arn:aws:iam::1:role/service/Runner") == ("role", "Runner")
    assert _principal("arn:aws:sts::1:assumed-role/Runner/s") == ("role", "Runner")
    assert _principal("arn:aws:iam::1:root") == ("", "")
    assert _principal("not-an-arn") == ("", "")


def test_entity_keys_carry_their_tenant() -> None:
    key = scoped_entity_key("acme", "order#O-1")
    assert key == "acme/order#O-1" and entity_tenant(key) == "acme"
    assert entity_tenant("order#O-1") == ""
