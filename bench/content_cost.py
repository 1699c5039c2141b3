"""Cost per newsletter edition of content-ops, with caching and translation reuse and without.

Runs `aios.planning.decide_case` — the code the decide function runs, here with content-ops's
pipeline: an ensemble of two translation candidates and a judge per segment and language, the
glossary from canonical memory records, the model-output cache, budgets, validation, signing,
ledger writes — in-process on moto over a recorded workload of recurring editions
(`bench/workloads/content_editions.jsonl`, 20 editions: the same intro and sign-off every week,
a recurring "about" post, three new posts, the same glossary; every sixth edition is sent again
with a correction). After each decision the staged versions are written to the content ledger
(`content.stage`'s own ledger writes), as the execution plane would.

  without  no output cache, no content ledger to reuse translations from
  with     the output cache (per tenant) and segment reuse from the ledger's current versions

The answers come from the offline stand-in (no model here); tokens are real: the rendered
prompts and answers tokenized with cl100k_base (`bpe-openai`); cost = tokens x cdk.json's
price table (translate literal on the large tier, fluent and judge on the small one). Prints
one cost report per edition (tokens by step, cache hits, reused segments) for the first few,
the totals of both runs and the ratio. Regenerate the workload with `--record`.

    .venv/bin/python bench/content_cost.py [--record] [--editions N] [--reports N]
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
WORKLOAD = ROOT / "bench" / "workloads" / "content_editions.jsonl"
GLOSSARY = ROOT / "processes" / "content-ops" / "memory" / "content-ops.glossary.json"

for key, value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_ENDPOINT_URL", None)

INTRO = (
    "Hello and welcome to this week's notes from the team.\n\n"
    "Every week we write about the ledger, the approval of each action and the digest that "
    "binds them, so that what is published is exactly what was approved.\n\n"
    "Thanks for reading, and see you next week. Reply to this newsletter with your questions."
)
ABOUT = {
    "post_id": "about-the-kit",
    "title": "About the AIOS Kit",
    "body": (
        "The AIOS Kit runs processes where models only propose and code decides.\n\n"
        "Every action is signed, every approval is bound to the digest of the action, and the "
        "ledger keeps each version.\n\n"
        "Each newsletter is staged in the ledger before it is published."
    ),
    "keywords": ["AIOS Kit", "ledger"],
}
TOPICS = [
    "approvals", "versions", "translations", "glossaries", "publishing", "budgets",
    "handoffs", "audits", "signatures", "queues", "claims", "previews",
]  # fmt: skip
SENTENCES = [
    "In week {w} we look at {t} in practice, with example {n} from a real case.",
    "The ledger keeps each version of the {t} post {n}, and the approval names the digest.",
    "A person from team {n} reviews the {t} of week {w} before anything is published.",
    "We measured how {t} change the cost of edition {w} by {n} percent.",
    "Next week we follow up on {t} with video {n} and a new example.",
]


def record(path: Path, editions: int = 20, seed: int = 48) -> None:
    """A seeded workload of recurring editions sharing boilerplate and the glossary."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for week in range(editions):
        if week % 6 == 5:  # a correction: the previous edition sent again, one post edited
            again = json.loads(json.dumps(rows[-1]))
            again["posts"][1]["body"] += "\n\nCorrection: the figures above were updated."
            rows.append(again)
            continue
        posts = [ABOUT]
        for topic in rng.sample(TOPICS, 3):
            body = "\n\n".join(
                s.format(t=topic, n=rng.randint(2, 999), w=week + 1)
                for s in rng.sample(SENTENCES, 4)
            )
            posts.append(
                {
                    "post_id": f"week-{week + 1:02d}-{topic}",
                    "title": f"Notes on {topic}, week {week + 1}",
                    "body": body,
                    "keywords": [topic],
                }
            )
        rows.append(
            {
                "edition_id": f"weekly-{week + 1:02d}",
                "title": f"Weekly notes #{week + 1}",
                "intro": INTRO,
                "languages": ["de", "fr", "es"],
                "platforms": ["blog", "newsletter", "social"],
                "posts": posts,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def _tables(suffix: str) -> None:
    import boto3
    from aios.ledger import DecisionItem, LedgerItem, bind_decision_store, bind_ledger
    from aios.memory.records import MemoryRecord, bind_memory_table, new_record, put_record

    ddb = boto3.client("dynamodb")
    for name, keys in (
        (f"ledger-{suffix}", ("pk", "sk")),
        (f"decisions-{suffix}", ("item_key",)),
        (f"memory-{suffix}", ("pk", "sk")),
    ):
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
    bind_memory_table(f"memory-{suffix}")
    os.environ["AIOS_MEMORY_TABLE"] = f"memory-{suffix}"
    LedgerItem._connection = None
    DecisionItem._connection = None
    MemoryRecord._connection = None
    for i, entry in enumerate(json.loads(GLOSSARY.read_text())):
        put_record(
            new_record(
                tenant="acme", namespace="content-ops.glossary", memory_id=f"term-{i}",
                text=json.dumps(entry), version=1, embedding_model="seed",
            )
        )  # fmt: skip


def _stage(case_id: str, tenant: str, action: Any) -> None:
    """Write the staged versions as `content.stage` does inside execute's transaction."""
    from aios.capabilities import ActionContext, get_capability
    from aios.ledger import commit
    from aios.settings import load_settings

    capability = get_capability("content.stage")
    ctx = ActionContext(
        case_id=case_id, action_id=action.action_id, entity_key=action.entity_key,
        settings=load_settings({}), capability="content.stage", tenant=tenant,
    )  # fmt: skip
    ops, _ = capability.stage(capability.validate_params(action.params), ctx)  # type: ignore[misc]
    if ops:
        commit(case_id, [("bench.staged", {"action_id": action.action_id})], ops=tuple(ops))


def run(label: str, editions: list[dict[str, Any]], *, reuse: bool) -> list[dict[str, Any]]:
    import boto3
    from aios import cases
    from aios.planning import CaseInput, decide_case
    from aios.pricing import ModelPrice
    from aios.tiering import ModelConfig

    from bench.decision_cost import TokenizedOffline
    from stacks.config import AiosConfig

    _tables(label)
    kms = boto3.client("kms")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    config = AiosConfig()
    models = ModelConfig(
        provider=TokenizedOffline(),
        provider_name="offline",
        tiers={"small": (config.model_tiers["small"][0],),
               "large": (config.model_tiers["large"][0],)},
        prices={m: ModelPrice(**p.model_dump()) for m, p in config.model_prices.items()},
        cache_ttl_seconds=86400 if reuse else 0,
        enforce_budgets=True,
    )  # fmt: skip
    reports = []
    for data in editions:
        inputs: list[dict[str, Any]] = []
        cases.submit_case(
            "content-ops",
            json.dumps(data),
            tenant="acme",
            idempotency_key=None,
            start_execution=lambda _c, d, sink=inputs: sink.append(d),
        )
        case = CaseInput(**inputs[0])
        decision = decide_case(case, models=models, kms=kms, key_id=key, ttl_seconds=3600)
        assert decision.handoff is None, decision.handoff
        if reuse:  # the content ledger holds what was staged: the next edition reuses it
            _stage(case.case_id, case.tenant, decision.actions[0])
        reports.append({"edition": data["edition_id"], **(decision.usage or {})})
    return reports


def report_lines(report: dict[str, Any]) -> list[str]:
    """One edition's cost report: tokens by step, cache hits, reused segments, cost."""
    lines = [f"edition {report['edition']}: {report['calls']} model calls, "
             f"{report['cost_usd']:.4f} USD"]  # fmt: skip
    for step, s in sorted((report.get("by_step") or {}).items()):
        lines.append(
            f"  {step:<10} calls {s['calls']:>4}  tokens in {s['input_tokens']:>6} out "
            f"{s['output_tokens']:>6}  cache hits {s['cache_hits']:>4}  reused {s['reused']:>4}"
            f"  {s['cost_usd']:.4f} USD"
        )
    return lines


def _sum(reports: list[dict[str, Any]], key: str) -> float:
    return float(sum(r.get(key) or 0 for r in reports))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="regenerate the recorded workload")
    parser.add_argument("--editions", type=int, default=0, help="run only the first N")
    parser.add_argument("--reports", type=int, default=3, help="per-edition reports to print")
    args = parser.parse_args()
    if args.record or not WORKLOAD.exists():
        record(WORKLOAD)
    editions = [json.loads(line) for line in WORKLOAD.read_text().splitlines() if line.strip()]
    editions = editions[: args.editions] if args.editions else editions
    from moto import mock_aws

    started = time.perf_counter()
    with mock_aws():
        without = run("without", editions, reuse=False)
        with_ = run("with", editions, reuse=True)
    print(f"workload: {len(editions)} editions of content-ops, 3 languages, tokens: cl100k_base")
    for report in with_[: args.reports]:
        print("\n".join(report_lines(report)))
    print()
    header = ("calls", "in tokens", "out tokens", "cache hits", "reused", "USD/edition")
    print(f"{'configuration':<26}" + "".join(f"{h:>12}" for h in header))
    for label, reports in (("without cache or reuse", without), ("with cache and reuse", with_)):
        hits = sum((r.get("cache") or {}).get("hits", 0) for r in reports)
        reused = sum(s.get("reused", 0) for r in reports for s in (r.get("by_step") or {}).values())
        row = (
            int(_sum(reports, "calls")), int(_sum(reports, "input_tokens")),
            int(_sum(reports, "output_tokens")), hits, reused,
            f"{_sum(reports, 'cost_usd') / len(reports):.4f}",
        )  # fmt: skip
        print(f"{label:<26}" + "".join(f"{v:>12}" for v in row))
    ratio = _sum(with_, "cost_usd") / _sum(without, "cost_usd")
    print(f"cost per edition with / without: {ratio:.2f}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
