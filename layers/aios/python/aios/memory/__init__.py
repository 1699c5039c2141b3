"""Memory: three tiers behind one interface.

- **Ephemeral context** (`context`): the case's own state input, kept under Step Functions'
  256 KiB by moving large values to S3 as claim checks.
- **Canonical records** (`records`): DynamoDB, the truth. Versioned writes: a newer version
  supersedes, a stale write never wins.
- **Vector memory** (`store`): a cache of the canonical records, rebuilt from them at will:
  OpenSearch k-NN on AWS (`opensearch`), an embedded exact store on a laptop.

`recall` and `learn` (`service`) are what the case flow calls; `indexing` keeps the vector
memory in step with the records (stream indexer and scheduled reconciler).

The names below load with their module on first use: `aios.memory.context` (claim checks, on
the cold path of api, decide and execute) then costs no pynamodb model, sqlite3 or store.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aios.memory.embedders import Embedder, HashingEmbedder, TitanEmbedder, get_embedder
    from aios.memory.records import MemoryRecord, bind_memory_table
    from aios.memory.store import MemoryDoc, MemoryHit, VectorStore

_MODULE_OF = {
    "Embedder": "aios.memory.embedders",
    "HashingEmbedder": "aios.memory.embedders",
    "TitanEmbedder": "aios.memory.embedders",
    "get_embedder": "aios.memory.embedders",
    "MemoryRecord": "aios.memory.records",
    "bind_memory_table": "aios.memory.records",
    "MemoryDoc": "aios.memory.store",
    "MemoryHit": "aios.memory.store",
    "VectorStore": "aios.memory.store",
}

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "MemoryDoc",
    "MemoryHit",
    "MemoryRecord",
    "TitanEmbedder",
    "VectorStore",
    "bind_memory_table",
    "get_embedder",
]


def __getattr__(name: str) -> Any:
    """One of `__all__`, imported from its module when first asked for (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
