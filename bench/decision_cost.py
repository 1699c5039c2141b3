"""Model calls, tokens and modelled cost of the decision plane on a recorded support workload.

Runs `aios.planning.decide_case` (the code the decide function runs: prompts, tiers, cache,
budgets, validation, signing, ledger writes) in-process on moto for every case of
`bench/workloads/support_tickets.jsonl` (220 tickets; about one in eight is an exact resend of
an earlier ticket, about one in four a near repeat: the same text under another ticket id,
with different case or spacing). Three configurations:

  A  one large model for every step, no cache
  B  tiering: small model classifies, large model plans (escalating low-confidence classes)
  C  tiering and the output cache

The answers come from the offline rule-based stand-in (there is no model here); token counts
are real: the rendered prompt and the answer are tokenized with the cl100k_base BPE
(`bpe-openai`), the same way for every configuration. Cost = tokens x the price table of
cdk.json's defaults. Regenerate the workload with `--record` (seeded, deterministic).

    .venv/bin/python bench/decision_cost.py [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
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


# --- the model stand-in with real token counts ------------------------------------------------


class TokenizedOffline:
    """The offline rules, with usage counted by a real BPE tokenizer and the requested model."""

    def __init__(self) -> None:
        import bpe_openai
        from aios.providers.offline import OfflineProvider

        self.encoding = bpe_openai.get_encoding("cl100k_base")
        self.inner = OfflineProvider()
        self.calls = 0

    def complete(self, request: Any) -> Any:
        self.calls += 1
        answer = self.inner.complete(request)
        tokens_in = len(self.encoding.encode(request.system)) + len(
            self.encoding.encode(request.prompt)
        )
        return answer.model_copy(
            update={
                "model_id": request.model_id,
                "input_tokens": tokens_in,
                "output_tokens": len(self.encoding.encode(answer.text)),
            }
        )


# --- the run -----------------------------------------------------------------------------------


def _tables(suffix: str) -> None:
    import boto3
    from aios.ledger import DecisionItem, LedgerItem, bind_decision_store, bind_ledger

    ddb = boto3.client("dynamodb")
    for name, keys in ((f"ledger-{suffix}", ("pk", "sk")), (f"decisions-{suffix}", ("item_key",))):
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[
                {"AttributeName": k, "KeyType": t}
                for k, t in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
        )
    bind_ledger(f"ledger-{suffix}")
    bind_decision_store(f"decisions-{suffix}")
    LedgerItem._connection = None
    DecisionItem._connection = None


def run(
    name: str, tickets: list[dict[str, Any]], tiers: dict[str, tuple[str, ...]], cache_ttl: int
) -> dict[str, Any]:
    import boto3
    from aios import cases
    from aios.planning import CaseInput, decide_case
    from aios.pricing import ModelPrice
    from aios.tiering import ModelConfig

    from stacks.config import AiosConfig

    _tables(name)
    kms = boto3.client("kms")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    provider = TokenizedOffline()
    prices = {m: ModelPrice(**p.model_dump()) for m, p in AiosConfig().model_prices.items()}
    models = ModelConfig(
        provider=provider,
        provider_name="offline",
        tiers=tiers,
        prices=prices,
        cache_ttl_seconds=cache_ttl,
        enforce_budgets=True,
    )
    totals = {
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "hits": 0,
        "misses": 0,
        "escalated": 0,
        "handoffs": 0,
    }
    started = time.perf_counter()
    for ticket in tickets:
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
        for k in ("calls", "input_tokens", "output_tokens", "cost_usd"):
            totals[k] += usage.get(k, 0)
        totals["hits"] += usage.get("cache", {}).get("hits", 0)
        totals["misses"] += usage.get("cache", {}).get("misses", 0)
        totals["escalated"] += int(bool(usage.get("escalated")))
        totals["handoffs"] += int(decision.handoff is not None)
    assert provider.calls == totals["calls"], "every provider call is accounted for in the ledger"
    totals["seconds"] = time.perf_counter() - started
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="regenerate the recorded workload")
    args = parser.parse_args()
    if args.record or not WORKLOAD.exists():
        record(WORKLOAD)
    tickets = [json.loads(line) for line in WORKLOAD.read_text().splitlines() if line.strip()]
    texts = {(t["subject"], t["body"].strip().casefold()) for t in tickets}
    from moto import mock_aws

    from stacks.config import AiosConfig

    config = AiosConfig()
    small, large = config.model_tiers["small"][0], config.model_tiers["large"][0]
    configs = {
        "A one large model, no cache": ({"small": (large,), "large": (large,)}, 0),
        "B tiering": ({"small": (small,), "large": (large,)}, 0),
        "C tiering + cache": ({"small": (small,), "large": (large,)}, 86400),
    }
    results: dict[str, dict[str, Any]] = {}
    with mock_aws():
        for label, (tiers, ttl) in configs.items():
            results[label] = run(label[0].lower(), tickets, tiers, ttl)
    distinct = len({json.dumps(t, sort_keys=True) for t in tickets})
    print(
        f"workload: {len(tickets)} cases, {distinct} distinct inputs, {len(texts)} distinct texts;"
        f" small={small} large={large}; tokens: cl100k_base"
    )
    header = ("calls", "in tokens", "out tokens", "cost USD", "cache hit", "escalated", "handoffs")
    print(f"{'configuration':<30}" + "".join(f"{h:>11}" for h in header))
    for label, r in results.items():
        lookups = r["hits"] + r["misses"]
        rate = f"{r['hits'] / lookups:.0%}" if lookups else "-"
        row = (r["calls"], r["input_tokens"], r["output_tokens"], f"{r['cost_usd']:.4f}", rate)
        row += (r["escalated"], r["handoffs"])
        print(f"{label:<30}" + "".join(f"{v:>11}" for v in row))
    a, b, c = results.values()
    for x_label, x, y_label, y in (("B", b, "A", a), ("C", c, "A", a), ("C", c, "B", b)):
        tokens = (x["input_tokens"] + x["output_tokens"]) / (y["input_tokens"] + y["output_tokens"])
        print(
            f"{x_label}/{y_label}: calls {x['calls'] / y['calls']:.2f}, tokens {tokens:.2f},"
            f" cost {x['cost_usd'] / y['cost_usd']:.2f}"
        )
    print(
        f"per case, C: {c['cost_usd'] / len(tickets) * 1000:.3f} USD per 1000 cases"
        f" (A: {a['cost_usd'] / len(tickets) * 1000:.3f})"
    )


if __name__ == "__main__":
    main()
