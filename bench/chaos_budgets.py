"""The chaos harness's budget invariant: no tenant's process spent more than its daily budget
allows, and every model dollar a case recorded was counted against the budget.

How budgets work (`aios.budget`): before each model call the decide function reserves the
call's estimate in one conditional UpdateItem on `BUDGET#<tenant>#<process>#<day>` that never
lets the reserved total pass the process's `decision.budget` (`daily_usd`, `daily_tokens`);
after the call it settles the reservation to the reported usage, or gives it all back when the
call failed. So the design allows the total to pass the limit only by what settling adds over
the estimates of the calls in flight at that moment; the check allows `in_flight` times the
largest decision a case recorded, and nothing more.

Checked from the decision store (the budget items, read before and after the run) and the
cases' recorded usage (`usage` of their plan or hand-off):

- every budget item the run changed is within its limit (+ the in-flight allowance), in USD
  and in tokens, and not negative (more given back than was reserved would let later calls
  overspend);
- per tenant and process, the spend the run added is at least what its cases recorded
  (a model call made but not counted is spend the budget never saw).

To make the limit bite during a run, `tighten` leaves only a little of today's budget of one
tenant's process (by adding to its spend), and `loosen` gives that back afterwards.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

BUDGET_PREFIX = "BUDGET#"
INVARIANT = "no budget overspent"


@dataclass(frozen=True)
class Spend:
    micros: int
    tokens: int


@dataclass(frozen=True)
class Limit:
    usd: float
    tokens: int


def parse_key(key: str) -> tuple[str, str, str]:
    """(tenant, process, day) of `BUDGET#<tenant>#<process>#<day>`."""
    _, tenant, process, day = key.split("#", 3)
    return tenant, process, day


def budget_key(tenant: str, process: str, day: str | None = None) -> str:
    return f"{BUDGET_PREFIX}{tenant}#{process}#{day or datetime.now(UTC).date().isoformat()}"


def decision_table(emu: Any) -> str:
    return str(emu.deployment.functions["decide"].environment["AIOS_DECISION_TABLE"])


def read_spend(emu: Any) -> dict[str, Spend]:
    """Every budget item of the decision store (a consistent scan, all pages)."""
    ddb = emu.client("dynamodb")
    found: dict[str, Spend] = {}
    pages = ddb.get_paginator("scan").paginate(
        TableName=decision_table(emu),
        ConsistentRead=True,
        FilterExpression="begins_with(item_key, :p)",
        ExpressionAttributeValues={":p": {"S": BUDGET_PREFIX}},
    )
    for page in pages:
        for item in page["Items"]:
            found[item["item_key"]["S"]] = Spend(
                int(item.get("spent_micros", {}).get("N", "0")),
                int(item.get("spent_tokens", {}).get("N", "0")),
            )
    return found


def read_limits(emu: Any) -> dict[str, Limit]:
    """Each process's daily budget, as the decide function reads it now."""

    def limits() -> dict[str, Limit]:
        from aios.specs import current_specs

        return {
            name: Limit(spec.decision.budget.daily_usd, spec.decision.budget.daily_tokens)
            for name, spec in current_specs().items()
        }

    result: dict[str, Limit] = emu.runtime.call_in("decide", limits)
    return result


def add_spend(emu: Any, key: str, micros: int) -> None:
    emu.client("dynamodb").update_item(
        TableName=decision_table(emu),
        Key={"item_key": {"S": key}},
        UpdateExpression="SET #k = :kind ADD spent_micros :m, spent_tokens :zero",
        ExpressionAttributeNames={"#k": "kind"},
        ExpressionAttributeValues={
            ":kind": {"S": "budget"},
            ":m": {"N": str(micros)},
            ":zero": {"N": "0"},
        },
    )


def tighten(emu: Any, key: str, limit: Limit, headroom_usd: float) -> int:
    """Leave `headroom_usd` of the budget under `key`; returns the micros added (for loosen)."""
    now = read_spend(emu).get(key, Spend(0, 0))
    added = max(0, int(limit.usd * 1e6) - int(headroom_usd * 1e6) - now.micros)
    if added:
        add_spend(emu, key, added)
    return added


def loosen(emu: Any, key: str, added: int) -> None:
    if added:
        add_spend(emu, key, -added)


def _recorded(cases: dict[str, Any]) -> tuple[dict[tuple[str, str], Spend], Spend, int]:
    """Per (tenant, process), what the cases recorded; the largest decision; model calls."""
    totals: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0])
    largest = Spend(0, 0)
    calls = 0
    for case in cases.values():
        usage = (case or {}).get("usage") or {}
        if not usage:
            continue
        tokens = sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
        )
        usd = float(usage.get("cost_usd") or 0.0)
        calls += int(usage.get("calls") or 0)
        total = totals[(str(case.get("tenant")), str(case.get("process")))]
        total[0] += usd * 1e6
        total[1] += tokens
        largest = Spend(max(largest.micros, int(usd * 1e6) + 1), max(largest.tokens, tokens))
    spends = {k: Spend(int(v[0]), int(v[1])) for k, v in totals.items()}
    return spends, largest, calls


def check_budgets(
    before: dict[str, Spend],
    after: dict[str, Spend],
    limits: dict[str, Limit],
    cases: dict[str, Any],
    in_flight: int,
) -> list[str]:
    """The budget violations (see the module docstring); `cases` are the final case views."""
    recorded, largest, calls = _recorded(cases)
    violations = []
    added: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    for key, spend in sorted(after.items()):
        was = before.get(key, Spend(0, 0))
        if spend == was:
            continue
        tenant, process, _ = parse_key(key)
        added[(tenant, process)][0] += spend.micros - was.micros
        added[(tenant, process)][1] += spend.tokens - was.tokens
        if spend.micros < 0 or spend.tokens < 0:
            violations.append(f"{INVARIANT}: {key} negative ({spend}): more given back than spent")
        limit = limits.get(process)
        if limit is None:
            violations.append(f"{INVARIANT}: {key} spent with no budget for {process!r}")
            continue
        max_micros = int(limit.usd * 1e6) + in_flight * largest.micros
        max_tokens = limit.tokens + in_flight * largest.tokens
        if spend.micros > max_micros or spend.tokens > max_tokens:
            violations.append(
                f"{INVARIANT}: {key} spent {spend.micros / 1e6:.6f} USD and {spend.tokens} "
                f"tokens; the budget allows {limit.usd} USD and {limit.tokens} tokens "
                f"(+ {in_flight} in-flight calls: {max_micros / 1e6:.6f} USD, {max_tokens})"
            )
    slack = calls + 1  # each call's settlement rounds its cost up to a whole micro-dollar
    for (tenant, process), spend in sorted(recorded.items()):
        micros, tokens = added.get((tenant, process), [0, 0])
        if spend.micros > micros + slack or spend.tokens > tokens:
            violations.append(
                f"{INVARIANT}: {tenant}/{process} cases recorded {spend.micros / 1e6:.6f} USD and "
                f"{spend.tokens} tokens of model use; the budget counted {micros / 1e6:.6f} USD "
                f"and {tokens} tokens"
            )
    return violations
