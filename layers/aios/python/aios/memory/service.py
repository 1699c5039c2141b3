"""Recall and Learn: what the case flow asks of memory.

`recall` finds the top-k memories of one tenant and namespace for a case, weights them by
recency and summarises them into a bounded decision context. `learn` writes what a finished
case did and how it turned out as a new canonical record; the indexer embeds it from the
table's stream.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from aios.errors import StaleMemoryWrite
from aios.memory.embedders import Embedder
from aios.memory.records import MemoryRecord, get_record, new_record, put_record
from aios.memory.store import VectorStore

SUMMARY_MAX_CHARS = 4000  # the summary rides in the state input: keep it far below 256 KiB
MEMORY_TEXT_MAX_CHARS = 1500


class RecalledMemory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_id: str
    text: str
    similarity: float
    score: float  # similarity weighted by recency
    age_days: float
    source_case: str | None = None


class MemoryContext(BaseModel):
    """What Recall adds to the state input under `$.memory` for Decide and the approval page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str
    embedding_model: str
    memories: list[RecalledMemory]
    summary: str


def case_text(process: str, payload: dict[str, Any]) -> str:
    """The text a case is recalled and remembered by: its process and its input's values."""
    parts = [process]
    for key in sorted(payload):
        value = payload[key]
        parts.append(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return " ".join(parts)


def recall(
    *,
    tenant: str,
    namespace: str,
    query: str,
    store: VectorStore,
    embedder: Embedder,
    k: int = 5,
    half_life_days: float = 30.0,
    min_similarity: float = 0.2,
    now: datetime | None = None,
) -> MemoryContext:
    """The top-k memories of `tenant`/`namespace` for `query`, most relevant first.

    Guarantees: only that tenant's and namespace's unexpired memories can be returned (the
    store filters before ranking); the score halves every `half_life_days`; the summary is at
    most SUMMARY_MAX_CHARS characters.
    """
    when = now or datetime.now(UTC)
    vector = embedder.embed([query])[0]
    hits = store.search(tenant, namespace, vector, k * 4, when.timestamp())
    ranked = []
    for hit in hits:
        if hit.tenant != tenant or hit.namespace != namespace or hit.score < min_similarity:
            continue  # belt and braces: a store bug must not leak another tenant's memory
        age_days = max(0.0, (when.timestamp() - hit.created_at) / 86400)
        weight = math.pow(0.5, age_days / half_life_days)
        ranked.append(
            RecalledMemory(
                memory_id=hit.memory_id,
                text=hit.text,
                similarity=round(hit.score, 4),
                score=round(hit.score * weight, 4),
                age_days=round(age_days, 2),
                source_case=hit.source_case,
            )
        )
    ranked.sort(key=lambda m: m.score, reverse=True)
    memories = ranked[:k]
    return MemoryContext(
        namespace=namespace,
        embedding_model=embedder.model,
        memories=memories,
        summary=summarize(memories),
    )


def summarize(memories: list[RecalledMemory]) -> str:
    """Bullet lines of the memories, cut to SUMMARY_MAX_CHARS."""
    if not memories:
        return ""
    lines = ["Lessons from earlier cases (most relevant first):"]
    for memory in memories:
        lines.append(
            f"- {memory.text[:600]} (similarity {memory.similarity:.2f}, "
            f"{memory.age_days:.0f} days ago)"
        )
    summary = "\n".join(lines)
    return summary if len(summary) <= SUMMARY_MAX_CHARS else summary[: SUMMARY_MAX_CHARS - 1] + "…"


def lesson_text(case: dict[str, Any], outcome: str) -> str:
    """What a finished case teaches: its input, what was done, and how it turned out."""
    done = (
        "; ".join(f"{a.get('capability')} {a.get('status')}" for a in case.get("actions") or [])
        or "no actions"
    )
    reason = ""
    error = case.get("error") or {}
    if outcome != "SUCCEEDED" and isinstance(error, dict) and error:
        code = error.get("code") or error.get("Error") or ""
        message = error.get("message") or error.get("Cause") or ""
        reason = f" Reason: {code} {message}".rstrip()
    text = (
        f"{case_text(str(case.get('process')), case.get('input') or {})}. "
        f"Actions: {done}. Outcome: {outcome}.{reason}"
    )
    return text[:MEMORY_TEXT_MAX_CHARS]


def learn(
    *,
    case: dict[str, Any],
    outcome: str,
    namespace: str,
    embedding_model: str,
    ttl_days: int,
    now: datetime | None = None,
) -> MemoryRecord:
    """Write the lesson of a finished case as canonical record `case:<case_id>`, version 1.

    Idempotent per case: a retried Learn finds the record and returns it unchanged.
    """
    when = now or datetime.now(UTC)
    tenant = str(case["tenant"])
    memory_id = f"case:{case['case_id']}"
    record = new_record(
        tenant=tenant,
        namespace=namespace,
        memory_id=memory_id,
        text=lesson_text(case, outcome),
        version=1,
        embedding_model=embedding_model,
        source_case=str(case["case_id"]),
        created_at=when,
        expires_at=when + timedelta(days=ttl_days) if ttl_days else None,
    )
    try:
        return put_record(record)
    except StaleMemoryWrite:
        existing = get_record(tenant, namespace, memory_id)
        assert existing is not None  # the condition failed because it exists
        return existing
