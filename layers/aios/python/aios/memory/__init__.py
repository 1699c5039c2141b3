"""Memory: three tiers behind one interface.

- **Ephemeral context** (`context`): the case's own state input, kept under Step Functions'
  256 KiB by moving large values to S3 as claim checks.
- **Canonical records** (`records`): DynamoDB, the truth. Versioned writes: a newer version
  supersedes, a stale write never wins.
- **Vector memory** (`store`): a cache of the canonical records, rebuilt from them at will:
  OpenSearch k-NN on AWS (`opensearch`), an embedded exact store on a laptop.

`recall` and `learn` (`service`) are what the case flow calls; `indexing` keeps the vector
memory in step with the records (stream indexer and scheduled reconciler).
"""

from aios.memory.embedders import Embedder, HashingEmbedder, TitanEmbedder, get_embedder
from aios.memory.records import MemoryRecord, bind_memory_table
from aios.memory.store import MemoryDoc, MemoryHit, VectorStore

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
