"""Daily model budgets per tenant and process, enforced before every model call.

`reserve_budget` adds the call's estimate to the day's spend in one conditional UpdateItem that
succeeds only if both the USD and the token total stay within the limits, so concurrent
decisions can never reserve more than the budget together. `settle_budget` then replaces the
estimate with the provider's reported usage. Fail closed: when a reservation is refused, or the
store cannot be reached, the call is not made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aios.errors import BudgetExhausted
from aios.ledger.decision_store import add_spend, get_spend, reserve_spend
from aios.specs import Budget

KEEP_DAYS = 7  # budget items stay readable for a week, then TTL removes them


@dataclass(frozen=True)
class Reservation:
    pk: str
    usd_micros: int
    tokens: int


def budget_key(tenant: str, process: str, day: date) -> str:
    return f"BUDGET#{tenant}#{process}#{day.isoformat()}"


def _today() -> date:
    return datetime.now(UTC).date()


def reserve_budget(
    tenant: str, process: str, limits: Budget, usd: float, tokens: int, *, day: date | None = None
) -> Reservation:
    """Reserve `usd` and `tokens` of today's budget atomically, or raise BudgetExhausted.

    Never lets the reserved total exceed either limit, however many callers race.
    """
    day = day or _today()
    micros = math.ceil(usd * 1e6)
    limit_micros = math.floor(limits.daily_usd * 1e6)
    pk = budget_key(tenant, process, day)
    if micros > limit_micros or tokens > limits.daily_tokens:
        raise BudgetExhausted(
            f"one call ({usd:.6f} USD, {tokens} tokens) exceeds the daily budget", budget=pk
        )
    expires = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(days=KEEP_DAYS)
    reserved = reserve_spend(
        pk,
        micros,
        tokens,
        max_micros=limit_micros,
        max_tokens=limits.daily_tokens,
        expires_at=expires,
    )
    if not reserved:
        raise BudgetExhausted(
            f"daily budget of tenant {tenant!r} for {process!r} is exhausted", budget=pk
        )
    return Reservation(pk=pk, usd_micros=micros, tokens=tokens)


def settle_budget(reservation: Reservation, usd: float, tokens: int) -> None:
    """Replace the reserved estimate with the actual usage (usually gives some back)."""
    delta_micros = math.ceil(usd * 1e6) - reservation.usd_micros
    delta_tokens = tokens - reservation.tokens
    if delta_micros == 0 and delta_tokens == 0:
        return
    add_spend(reservation.pk, delta_micros, delta_tokens)


def release_budget(reservation: Reservation) -> None:
    """Give the whole reservation back (the call was not answered)."""
    settle_budget(reservation, 0.0, 0)


def budget_spent(tenant: str, process: str, day: date | None = None) -> dict[str, Any]:
    """The day's spend: {"usd", "tokens"} (zero when nothing was spent)."""
    pk = budget_key(tenant, process, day or _today())
    micros, tokens = get_spend(pk)
    return {"usd": micros / 1e6, "tokens": tokens}
