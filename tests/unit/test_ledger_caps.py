"""Running totals of capped params in the ledger: claimed once per action, never past the cap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aios.ledger import cap_total, claim_cap, release_cap

KEY = "billing.credit#amount#2026-12"
ENTITY = "t1/customer#CU-1"


def _claim(action_id: str, amount: float) -> bool:
    ok, _ = claim_cap(ENTITY, KEY, action_id=action_id, amount=amount, maximum=50, at="t")
    return ok


def test_claims_count_once_per_action_up_to_the_cap(ledger: str) -> None:
    assert _claim("a-1", 30)
    assert _claim("a-1", 30)  # a redelivery counts once
    assert cap_total(ENTITY, KEY) == 30
    assert claim_cap(ENTITY, KEY, action_id="a-2", amount=25, maximum=50, at="t") == (False, 30)
    assert _claim("a-3", 20)
    assert cap_total(ENTITY, KEY) == 50
    release_cap(ENTITY, KEY, action_id="a-3", at="t")  # it will never apply
    assert cap_total(ENTITY, KEY) == 30 and cap_total(ENTITY, KEY, excluding="a-1") == 0


def test_concurrent_claims_never_pass_the_cap_together(ledger: str) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: _claim(f"c-{n}", 20), range(6)))
    assert sum(results) == 2
    assert cap_total(ENTITY, KEY) == 40
