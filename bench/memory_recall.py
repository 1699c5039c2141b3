"""Embedded vector store: recall latency (p50/p99), recall@10 against exact search, indexing rate.

For 10k and 100k records in one tenant/namespace (the worst case: recall scans one scope),
the store is filled through `upsert` (timed: records/s, embedding excluded), then queried with
held-out texts through `search` (timed per query, after one warm-up that loads the scope's
matrix). The reference is a brute-force numpy cosine top-10 over the same vectors. The embedded
store is itself exact, so recall@10 is 1.0 by construction; it is measured anyway, so a change
that made the store approximate (or wrong) would show here.

    /tmp/setup/venv/bin/python bench/memory_recall.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"))

from aios.memory import HashingEmbedder
from aios.memory.store import EmbeddedVectorStore, MemoryDoc

WORDS = [
    "refund",
    "charge",
    "twice",
    "invoice",
    "late",
    "delivery",
    "address",
    "password",
    "reset",
    "account",
    "locked",
    "shipping",
    "damaged",
    "order",
    "cancel",
    "subscription",
    "upgrade",
    "downgrade",
    "plan",
    "billing",
    "card",
    "expired",
    "coupon",
    "discount",
    "warranty",
    "return",
    "label",
    "tracking",
    "customs",
    "delay",
    "outage",
    "login",
    "error",
    "api",
    "export",
    "import",
    "report",
    "dashboard",
    "slow",
    "timeout",
    "crash",
    "mobile",
    "app",
    "android",
    "ios",
    "browser",
]
DIMENSIONS = 256  # the embedded default (AIOS_MEMORY_DIMENSIONS)
K = 10


def texts(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(6, 14))) + f" ticket {i}" for i in range(n)]


def run(size: int, queries: int, batch: int = 1000) -> dict[str, float]:
    rng = random.Random(size)
    embedder = HashingEmbedder(DIMENSIONS)
    corpus = texts(size, rng)
    vectors = embedder.embed(corpus)
    docs = [
        MemoryDoc(
            tenant="bench",
            namespace="support",
            memory_id=f"m{i}",
            version=1,
            embedding_model=embedder.model,
            text=t,
            created_at=1.7e9,
            vector=v,
        )
        for i, (t, v) in enumerate(zip(corpus, vectors, strict=True))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedVectorStore(Path(tmp) / "bench.sqlite")
        start = time.perf_counter()
        for i in range(0, size, batch):
            store.upsert(docs[i : i + batch])
        index_seconds = time.perf_counter() - start

        matrix = np.asarray(vectors, dtype=np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        asks = embedder.embed(texts(queries, random.Random(-size)))
        store.search("bench", "support", asks[0], K, 0.0)  # warm-up: loads the scope's matrix
        latencies, overlaps = [], []
        for ask in asks:
            t0 = time.perf_counter()
            hits = store.search("bench", "support", ask, K, 0.0)
            latencies.append((time.perf_counter() - t0) * 1000)
            q = np.asarray(ask, dtype=np.float32)
            scores = matrix @ (q / max(float(np.linalg.norm(q)), 1e-12))
            kth = float(np.sort(scores)[-K])
            # Tie-aware: the hashing embedder gives equal scores to equal word bags, and any of
            # the tied documents is a correct 10th neighbour.
            found = sum(1 for h in hits if scores[int(h.memory_id[1:])] >= kth - 1e-6)
            overlaps.append(found / K)
        store.close()
    latencies.sort()
    return {
        "records": size,
        "index_rate": size / index_seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "recall_at_10": statistics.fmean(overlaps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    results = [run(size, args.queries) for size in args.sizes]
    print(
        f"embedded store (exact cosine, SQLite + numpy), {DIMENSIONS} dims, hashing embedder, "
        f"k={K}, {args.queries} queries"
    )
    print(f"{'records':>8} {'index rec/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10}")
    for r in results:
        print(
            f"{r['records']:>8} {r['index_rate']:>12.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['recall_at_10']:>10.3f}"
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(
            f"ratios {b['records']}/{a['records']} records: p50 x{b['p50_ms'] / a['p50_ms']:.1f}, "
            f"p99 x{b['p99_ms'] / a['p99_ms']:.1f}, index rate x{b['index_rate'] / a['index_rate']:.2f} "
            f"(exact search is O(n) per query)"
        )
    print(
        "recall@10 = 1.0 by construction (the store is exact); measured against numpy brute force."
    )


if __name__ == "__main__":
    main()
