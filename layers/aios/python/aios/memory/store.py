"""Vector memory: the interface and the embedded store used on a laptop.

The vector memory is a cache of the canonical records, never the truth. A document is keyed
by its record's key (`tenant#namespace#memory_id`) and carries the record's version and the
embedding model that produced its vector, so a writer can refuse a stale version and the
reconciler can find what drifted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict


class MemoryDoc(BaseModel):
    """One indexed memory: the record's fields that recall needs, plus its vector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    namespace: str
    memory_id: str
    version: int
    embedding_model: str
    text: str
    created_at: float  # epoch seconds
    expires_at: float | None = None  # epoch seconds; None = never
    source_case: str | None = None
    vector: list[float]

    @property
    def key(self) -> str:
        return doc_key(self.tenant, self.namespace, self.memory_id)


class MemoryHit(BaseModel):
    """A search result: the document without its vector, and its cosine similarity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    namespace: str
    memory_id: str
    version: int
    text: str
    created_at: float
    source_case: str | None = None
    score: float


class DocState(BaseModel):
    """What the reconciler compares: identity, version, model, expiry."""

    model_config = ConfigDict(frozen=True)

    key: str
    version: int
    embedding_model: str
    expires_at: float | None = None


def doc_key(tenant: str, namespace: str, memory_id: str) -> str:
    return f"{tenant}#{namespace}#{memory_id}"


class VectorStore(Protocol):
    """A k-NN index of memories, filtered by tenant and namespace.

    Guarantees every implementation gives:
    - `upsert` never replaces a document with an older version (an equal version replaces it
      only when the embedding model differs: a re-embedding);
    - `delete` never removes a newer version than the one it names;
    - `search` returns only documents of the given tenant and namespace that have not expired.
    """

    def ensure_index(self, dimensions: int) -> None: ...

    def upsert(self, docs: list[MemoryDoc]) -> int: ...

    def delete(self, key: str, version: int) -> bool: ...

    def delete_keys(self, keys: Iterable[str]) -> int: ...

    def delete_expired(self, now: float) -> int: ...

    def search(
        self, tenant: str, namespace: str, vector: list[float], k: int, now: float
    ) -> list[MemoryHit]: ...

    def inventory(self) -> dict[str, DocState]: ...


class EmbeddedVectorStore:
    """Exact (brute-force) cosine search over a SQLite file, for the laptop and the emulation.

    Several processes or handlers may open the same file: every write bumps a generation
    counter, and a reader reloads its in-memory matrix of a tenant/namespace only when the
    counter moved. Exact search means recall@k is 1 by construction; the price is O(n) per
    query within one tenant/namespace (see bench/memory_recall.py for figures).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS docs (
                key TEXT PRIMARY KEY, tenant TEXT NOT NULL, namespace TEXT NOT NULL,
                memory_id TEXT NOT NULL, version INTEGER NOT NULL,
                embedding_model TEXT NOT NULL, text TEXT NOT NULL, created_at REAL NOT NULL,
                expires_at REAL, source_case TEXT, vector BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS docs_scope ON docs (tenant, namespace);
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta VALUES ('generation', 0);
            """
        )
        self._db.commit()
        self._cache: dict[tuple[str, str], tuple[int, Any, list[tuple[Any, ...]]]] = {}

    def ensure_index(self, dimensions: int) -> None:
        """Nothing to create: the table exists once the store is open."""

    def upsert(self, docs: list[MemoryDoc]) -> int:
        import numpy as np

        written = 0
        with self._lock:
            for doc in docs:
                cursor = self._db.execute(
                    """
                    INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?,?)
                    ON CONFLICT(key) DO UPDATE SET
                        version=excluded.version, embedding_model=excluded.embedding_model,
                        text=excluded.text, created_at=excluded.created_at,
                        expires_at=excluded.expires_at, source_case=excluded.source_case,
                        vector=excluded.vector
                    WHERE docs.version < excluded.version
                       OR (docs.version = excluded.version
                           AND docs.embedding_model <> excluded.embedding_model)
                    """,
                    (
                        doc.key,
                        doc.tenant,
                        doc.namespace,
                        doc.memory_id,
                        doc.version,
                        doc.embedding_model,
                        doc.text,
                        doc.created_at,
                        doc.expires_at,
                        doc.source_case,
                        np.asarray(doc.vector, dtype=np.float32).tobytes(),
                    ),
                )
                written += cursor.rowcount
            self._bump()
        return written

    def delete(self, key: str, version: int) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM docs WHERE key = ? AND version <= ?", (key, version)
            )
            self._bump()
        return cursor.rowcount > 0

    def delete_keys(self, keys: Iterable[str]) -> int:
        with self._lock:
            cursor = self._db.executemany("DELETE FROM docs WHERE key = ?", [(k,) for k in keys])
            self._bump()
        return cursor.rowcount

    def delete_expired(self, now: float) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM docs WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            )
            self._bump()
        return cursor.rowcount

    def search(
        self, tenant: str, namespace: str, vector: list[float], k: int, now: float
    ) -> list[MemoryHit]:
        import numpy as np

        matrix, rows = self._scope(tenant, namespace)
        if not rows:
            return []
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query)) or 1.0
        scores = matrix @ (query / norm)
        alive = np.array([r[5] is None or r[5] > now for r in rows])
        scores = np.where(alive, scores, -np.inf)
        top = np.argsort(-scores, kind="stable")[: max(0, k)]
        return [
            MemoryHit(
                tenant=tenant,
                namespace=namespace,
                memory_id=rows[i][0],
                version=rows[i][1],
                text=rows[i][2],
                created_at=rows[i][3],
                source_case=rows[i][4],
                score=float(scores[i]),
            )
            for i in top
            if np.isfinite(scores[i])
        ]

    def inventory(self) -> dict[str, DocState]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, version, embedding_model, expires_at FROM docs"
            ).fetchall()
        return {
            r[0]: DocState(key=r[0], version=r[1], embedding_model=r[2], expires_at=r[3])
            for r in rows
        }

    def close(self) -> None:
        self._db.close()

    # -- internals

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = value + 1 WHERE name = 'generation'")
        self._db.commit()

    def _scope(self, tenant: str, namespace: str) -> tuple[Any, list[tuple[Any, ...]]]:
        """The normalised vectors and the fields of one tenant/namespace, cached by generation."""
        import numpy as np

        with self._lock:
            generation = self._db.execute(
                "SELECT value FROM meta WHERE name = 'generation'"
            ).fetchone()[0]
            cached = self._cache.get((tenant, namespace))
            if cached and cached[0] == generation:
                return cached[1], cached[2]
            fetched = self._db.execute(
                "SELECT memory_id, version, text, created_at, source_case, expires_at, vector "
                "FROM docs WHERE tenant = ? AND namespace = ? ORDER BY key",
                (tenant, namespace),
            ).fetchall()
        rows = [tuple(r[:6]) for r in fetched]
        if fetched:
            matrix = np.vstack([np.frombuffer(r[6], dtype=np.float32) for r in fetched])
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
        self._cache[(tenant, namespace)] = (generation, matrix, rows)
        return matrix, rows


def epoch(value: Any) -> float | None:
    """Epoch seconds of a datetime (or None)."""
    return None if value is None else float(value.timestamp())


def now() -> float:
    return time.time()
