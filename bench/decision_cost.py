"""Model calls, tokens and modelled cost of the decision plane on a recorded support workload.

Runs `aios.planning.decide_case` (the code the decide function runs: prompts, tiers, cache,
budgets, validation, signing, ledger writes) in-process on moto for every case of
`bench/workloads/support_tickets.jsonl` (220 tickets; about one in eight is an exact resend of
an earlier ticket, about one in four a near repeat: the same text under another ticket id,
with different case or spacing; fresh tickets share templates, so some differ only in an error
code). Configurations:

  A  one large model for every step, no cache of any kind             (the reference)
  B  tiering: small model classifies, large model plans (escalating low-confidence classes)
  C  tiering + the output cache with the exact-text classification key (the kit before)
  D  tiering + the output cache with the rewording-tolerant key + Bedrock prompt caching
  E  as D with Amazon Nova Micro as the small tier

The answers come from the offline rule-based stand-in (there is no model here); token counts
are real: the Converse request the Bedrock provider builds (tool definition, system prompt,
user message) and the answer are tokenized with the cl100k_base BPE (`bpe-openai`), the same way
for every configuration. Bedrock's prompt cache is simulated from that request: the prefix up to
the `cachePoint` (tool definition and system prompt; the system prompt only for Nova) is
written at the first call and read by every later call within the 5-minute TTL (each read
renews it), only when it reaches the model's minimum (stacks/model_prices.py); cases arrive
every `--interval` seconds. Cost = tokens x the list prices of stacks/model_prices.py (input,
output, cache read, cache write). The last lines price batch inference for the non-urgent
cases (priority low) at Bedrock's batch rate (50% of on-demand, no prompt-cache discount), a
model of what batching would save, not a run of it. Regenerate the workload with `--record`
(seeded, deterministic).

    .venv/bin/python bench/decision_cost.py [--record] [--interval 60]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))
sys.path.insert(0, str(ROOT))
WORKLOAD = ROOT / "bench" / "workloads" / "support_tickets.jsonl"

for key, value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_ENDPOINT_URL", None)

# --- the recorded workload -------------------------------------------------------------------

_PRODUCTS = [
    "Pro plan",
    "Team plan",
    "Starter plan",
    "mobile app",
    "desktop sync",
    "API",
    "invoice portal",
]
_BILLING = [
    (
        "Charged twice for my {p}",
        "Hi, my card was charged twice this month for the {p}. Please refund one charge.",
    ),
    (
        "Refund for {p}",
        "I cancelled the {p} on day {d} but the payment of {a} EUR still went through.",
    ),
    ("Invoice {n} is wrong", "Invoice {n} bills me {a} EUR for the {p}, but my plan costs less."),
    (
        "Card declined on renewal",
        "My card keeps failing for the {p} renewal although the bank says it is fine.",
    ),
]
_TECHNICAL = [
    ("{p} crashes on start", "Since the update the {p} crashes right after login with error {n}."),
    (
        "Error {n} when exporting",
        "Exporting from the {p} fails with error {n} every time, urgent please.",
    ),
    ("{p} is down", "The {p} has been down for an hour for our whole team. Outage?"),
    ("Sync broken", "Files stopped syncing in the {p}; the log shows error {n}."),
]
_GENERAL = [
    ("Question about {p}", "Can the {p} be used by two people at once? Thanks!"),
    ("Feature request", "It would be great if the {p} could export to CSV as well."),
    ("How do I change my email", "I want to move my account of the {p} to a new address."),
]


def record(path: Path, cases: int = 220, seed: int = 5) -> None:
    """Write a seeded workload with exact resends and near repeats of earlier tickets."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(cases):
        roll = rng.random()
        if rows and roll < 0.12:  # the same ticket sent again (webhook retry, double submit)
            rows.append(dict(rng.choice(rows)))
            continue
        if rows and roll < 0.38:  # the same text on another ticket, with casing/spacing noise
            base = dict(rng.choice(rows))
            noisy = (
                base["body"].upper()
                if rng.random() < 0.5
                else "  " + base["body"].replace(" ", "  ")
            )
            rows.append(
                {
                    **base,
                    "ticket_id": f"T-{5000 + i}",
                    "customer_email": f"user{i}@example.com",
                    "body": noisy,
                }
            )
            continue
        family = rng.choice([_BILLING, _BILLING, _TECHNICAL, _TECHNICAL, _GENERAL])
        subject, body = rng.choice(family)
        values = {
            "p": rng.choice(_PRODUCTS),
            "d": rng.randint(1, 28),
            "a": rng.randint(9, 400),
            "n": rng.randint(1000, 9999),
        }
        rows.append(
            {
                "ticket_id": f"T-{5000 + i}",
                "customer_email": f"user{i}@example.com",
                "subject": subject.format(**values),
                "body": body.format(**values),
                "priority": rng.choice(["low", "normal", "normal", "high"]),
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


# --- the model stand-in: Bedrock's request, real token counts, a simulated prompt cache -------


class PromptCache:
    """Bedrock's prompt cache as billed: a prefix at or above the model's minimum is written
    once and read by later calls within the TTL; each read renews the TTL."""

    def __init__(self, ttl_seconds: float = 300.0) -> None:
        self.ttl = ttl_seconds
        self.now = 0.0
        self._last_used: dict[str, float] = {}

    def lookup(self, key: str) -> bool:
        """True for a read (the prefix is cached), False for a write; renews the entry."""
        last = self._last_used.get(key)
        self._last_used[key] = self.now
        return last is not None and self.now - last <= self.ttl


class TokenizedBedrock:
    """The offline rules answering the Converse request the Bedrock provider would send, with
    usage counted by a real BPE tokenizer and split as Bedrock reports it (uncached input,
    cache reads, cache writes)."""

    def __init__(self, prompt_cache: PromptCache | None) -> None:
        import bpe_openai
        from aios.providers.offline import OfflineProvider

        from stacks.model_prices import PROMPT_CACHE_MIN_TOKENS

        self.encoding = bpe_openai.get_encoding("cl100k_base")
        self.inner = OfflineProvider()
        self.cache = prompt_cache
        self.minimum = PROMPT_CACHE_MIN_TOKENS
        self.calls = 0

    def tokens(self, text: str) -> int:
        return len(self.encoding.encode(text))

    def complete(self, request: Any) -> Any:
        from aios.providers.bedrock import converse_request

        self.calls += 1
        answer = self.inner.complete(request)
        params = converse_request(request, prompt_cache=self.cache is not None)
        tools = self.tokens(json.dumps(params["toolConfig"], sort_keys=True))
        system_blocks = params.get("system", [])
        system = sum(self.tokens(b["text"]) for b in system_blocks if "text" in b)
        user = sum(self.tokens(c["text"]) for m in params["messages"] for c in m["content"])
        total = tools + system + user
        read = write = 0
        if self.cache is not None and any("cachePoint" in b for b in system_blocks):
            # Claude caches the tool definition and the system prompt; Nova the system prompt.
            nova = ".nova-" in request.model_id or request.model_id.startswith("amazon.nova")
            prefix = system if nova else tools + system
            if prefix >= self.minimum.get(request.model_id, 1 << 30):
                key = f"{request.model_id}|{digest(params['system'], params['toolConfig'])}"
                read, write = (prefix, 0) if self.cache.lookup(key) else (0, prefix)
        return answer.model_copy(
            update={
                "model_id": request.model_id,
                "input_tokens": total - read - write,
                "output_tokens": self.tokens(answer.text),
                "cache_read_tokens": read,
                "cache_write_tokens": write,
            }
        )


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --- the run -----------------------------------------------------------------------------------

LEDGER_ROTATION = 20
"""Cases per ledger table: moto copies a whole table on every transaction, so one table for
220 cases makes the run quadratic; the decisions table (output cache, budgets) is kept."""


def _decision_table(suffix: str) -> None:
    import boto3
    from aios.ledger import DecisionItem, bind_decision_store

    name = f"decisions-{suffix}"
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "item_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "item_key", "KeyType": "HASH"}],
    )
    bind_decision_store(name)
    DecisionItem._connection = None


def _ledger_table(suffix: str) -> None:
    import boto3
    from aios.ledger import LedgerItem, bind_ledger

    name = f"ledger-{suffix}"
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    bind_ledger(name)
    LedgerItem._connection = None


@dataclass(frozen=True)
class Setup:
    tiers: dict[str, tuple[str, ...]]
    output_cache: bool
    prompt_cache: bool
    exact_text_key: bool = False


def run(name: str, tickets: list[dict[str, Any]], setup: Setup, interval: float) -> dict[str, Any]:
    import boto3
    from aios import cases, planning
    from aios.model_cache import normalize, reworded
    from aios.planning import CaseInput, decide_case
    from aios.pricing import ModelPrice
    from aios.tiering import ModelConfig

    from stacks.model_prices import MODEL_LIST_PRICES

    _decision_table(name)
    kms = boto3.client("kms")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    cache = PromptCache() if setup.prompt_cache else None
    provider = TokenizedBedrock(cache)
    prices = {m: ModelPrice(**p.as_config()) for m, p in MODEL_LIST_PRICES.items()}
    models = ModelConfig(
        provider=provider,
        provider_name="bedrock",
        tiers=setup.tiers,
        prices=prices,
        cache_ttl_seconds=86400 if setup.output_cache else 0,
        enforce_budgets=True,
    )
    # The classification key the kit used before: case and spacing folded, nothing else.
    planning.reworded = (  # type: ignore[attr-defined]
        (lambda data: normalize(data, fold=True)) if setup.exact_text_key else reworded
    )
    totals: dict[str, Any] = {
        k: 0
        for k in (
            "calls",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "hits",
            "misses",
            "escalated",
            "handoffs",
        )
    }
    totals["cost_usd"] = 0.0
    per_case: list[tuple[dict[str, Any], dict[str, Any]]] = []
    started = time.perf_counter()
    for index, ticket in enumerate(tickets):
        if index % LEDGER_ROTATION == 0:
            _ledger_table(f"{name}-{index // LEDGER_ROTATION}")
        if cache is not None:
            cache.now = index * interval
        inputs: list[dict[str, Any]] = []
        cases.submit_case(
            "ticket-triage",
            json.dumps(ticket),
            tenant="acme",
            idempotency_key=None,
            start_execution=lambda _c, data, sink=inputs: sink.append(data),
        )
        decision = decide_case(
            CaseInput(**inputs[0]), models=models, kms=kms, key_id=key, ttl_seconds=3600
        )
        usage = decision.usage or {}
        for k in (
            "calls",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
        ):
            totals[k] += usage.get(k, 0)
        totals["hits"] += usage.get("cache", {}).get("hits", 0)
        totals["misses"] += usage.get("cache", {}).get("misses", 0)
        totals["escalated"] += int(bool(usage.get("escalated")))
        totals["handoffs"] += int(decision.handoff is not None)
        per_case.append((ticket, usage))
    assert provider.calls == totals["calls"], "every provider call is accounted for in the ledger"
    totals["seconds"] = time.perf_counter() - started
    totals["batch_usd"] = _with_batch(per_case, prices, dict(setup.tiers))
    return totals


BATCH_DISCOUNT = 0.5
"""Bedrock batch inference: 50% of the on-demand price (Bedrock pricing page, "Batch")."""


def _with_batch(
    per_case: list[tuple[dict[str, Any], dict[str, Any]]],
    prices: Any,
    tiers: dict[str, tuple[str, ...]],
) -> float:
    """The run's cost if the non-urgent cases (priority low) were decided by batch inference:
    their calls at half the on-demand rates, every input token at the input rate (a tier's
    calls ran on its first model: nothing is throttled here)."""
    total = 0.0
    for ticket, usage in per_case:
        if ticket.get("priority") != "low":
            total += usage.get("cost_usd", 0.0)
            continue
        for tier, t in (usage.get("by_tier") or {}).items():
            tokens_in = t["input_tokens"] + t["cache_read_tokens"] + t["cache_write_tokens"]
            price = prices[tiers[tier][0]]
            total += BATCH_DISCOUNT * price.cost(tokens_in, t["output_tokens"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="regenerate the recorded workload")
    parser.add_argument(
        "--interval", type=float, default=60.0, help="seconds between cases (prompt-cache TTL)"
    )
    args = parser.parse_args()
    if args.record or not WORKLOAD.exists():
        record(WORKLOAD)
    tickets = [json.loads(line) for line in WORKLOAD.read_text().splitlines() if line.strip()]
    texts = {(t["subject"], t["body"].strip().casefold()) for t in tickets}
    from moto import mock_aws

    from stacks.config import AiosConfig
    from stacks.model_prices import NOVA_MICRO

    config = AiosConfig()
    small, large = config.model_tiers["small"][0], config.model_tiers["large"][0]
    tiered = {"small": (small,), "large": (large,)}
    setups = {
        "A one large model, no cache": Setup({"small": (large,), "large": (large,)}, False, False),
        "B tiering": Setup(tiered, False, False),
        "C tiering + output cache": Setup(tiered, True, False, exact_text_key=True),
        "D C + rewording + prompt cache": Setup(tiered, True, True),
        "E D, Nova Micro small tier": Setup(
            {"small": (NOVA_MICRO,), "large": (large,)}, True, True
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    with mock_aws():
        for label, setup in setups.items():
            results[label] = run(label[0].lower(), tickets, setup, args.interval)
    distinct = len({json.dumps(t, sort_keys=True) for t in tickets})
    low = sum(t.get("priority") == "low" for t in tickets)
    print(
        f"workload: {len(tickets)} cases, {distinct} distinct inputs, {len(texts)} distinct texts,"
        f" {low} of priority low; small={small} large={large}; tokens: cl100k_base;"
        f" a case every {args.interval:.0f} s"
    )
    header = ("calls", "in", "cache rd", "cache wr", "out", "cost USD", "out hit", "escal")
    print(f"{'configuration':<32}" + "".join(f"{h:>10}" for h in header))
    for label, r in results.items():
        lookups = r["hits"] + r["misses"]
        rate = f"{r['hits'] / lookups:.0%}" if lookups else "-"
        row = (
            r["calls"],
            r["input_tokens"],
            r["cache_read_tokens"],
            r["cache_write_tokens"],
            r["output_tokens"],
            f"{r['cost_usd']:.4f}",
            rate,
            r["escalated"],
        )
        print(f"{label:<32}" + "".join(f"{v:>10}" for v in row))
    a = results["A one large model, no cache"]
    for label, r in results.items():
        if r is not a:
            print(
                f"{label[0]}/A: calls {r['calls'] / a['calls']:.2f}, cost {r['cost_usd'] / a['cost_usd']:.2f}"
            )
    d = results["D C + rewording + prompt cache"]
    print(
        f"model spend: A {a['cost_usd']:.4f} USD, D {d['cost_usd']:.4f} USD,"
        f" ratio D/A {d['cost_usd'] / a['cost_usd']:.2f} (target <= 0.50);"
        f" per 1000 cases: A {a['cost_usd'] / len(tickets) * 1000:.3f},"
        f" D {d['cost_usd'] / len(tickets) * 1000:.3f} USD"
    )
    saved = d["cost_usd"] - d["batch_usd"]
    print(
        f"batch inference for the {low} low-priority cases (modelled): D {d['batch_usd']:.4f} USD,"
        f" saves {saved:.4f} USD ({saved / d['cost_usd']:.0%} of D),"
        f" ratio {d['batch_usd'] / a['cost_usd']:.2f}"
    )


if __name__ == "__main__":
    main()
