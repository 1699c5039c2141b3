"""Vector memory on OpenSearch k-NN (Serverless `aoss` or a managed domain `es`).

Documents are keyed by a `key` keyword field, not by `_id`: OpenSearch Serverless vector
collections do not accept custom document ids, so one code path serves both engines. An
upsert reads the key's current version and writes through `_bulk` (delete the old document,
index the new one) only when the new version is newer; deletes are `_delete_by_query` with a
version bound, so a delete never removes a newer version.

Not exercised against a live cluster in CI: tests/unit/test_memory_opensearch.py drives it over
HTTP against a recorder that checks each request against OpenSearch's documented k-NN API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlparse

from aios.memory.store import DocState, MemoryDoc, MemoryHit

VECTOR_FIELD = "vector"
PAGE = 1000


def index_body(dimensions: int) -> dict[str, Any]:
    """Settings and mappings of the memory index: HNSW, cosine, keyword filters."""
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "properties": {
                VECTOR_FIELD: {
                    "type": "knn_vector",
                    "dimension": dimensions,
                    "method": {
                        "name": "hnsw",
                        "engine": "faiss",
                        "space_type": "cosinesimil",
                        "parameters": {"ef_construction": 128, "m": 16},
                    },
                },
                "key": {"type": "keyword"},
                "tenant": {"type": "keyword"},
                "namespace": {"type": "keyword"},
                "memory_id": {"type": "keyword"},
                "version": {"type": "long"},
                "embedding_model": {"type": "keyword"},
                "text": {"type": "text"},
                "source_case": {"type": "keyword"},
                "created_at": {"type": "double"},
                "expires_at": {"type": "double"},
            }
        },
    }


def aws_client(endpoint: str, region: str, service: str) -> Any:
    """An opensearch-py client signing with SigV4 for `service` (`aoss` or `es`)."""
    import boto3
    from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

    url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    credentials = boto3.session.Session().get_credentials()
    return OpenSearch(
        hosts=[{"host": url.hostname, "port": url.port or (443 if url.scheme == "https" else 80)}],
        http_auth=AWSV4SignerAuth(credentials, region, service),
        use_ssl=url.scheme == "https",
        verify_certs=url.scheme == "https",
        connection_class=RequestsHttpConnection,
        timeout=10,
        pool_maxsize=10,
    )


class LazyClient:
    """A client made by `make()` at its first use, once: a function's module-level store then
    costs no opensearch-py, requests or credentials lookup at cold start (a handler that never
    reaches the store never pays for them)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def lazy_aws_client(endpoint: str, region: str, service: str) -> LazyClient:
    """`aws_client(endpoint, region, service)`, made at its first use."""
    return LazyClient(functools.partial(aws_client, endpoint, region, service))


class OpenSearchVectorStore:
    """The VectorStore interface over an opensearch-py client.

    The index ranks by `cosinesimil` on faiss HNSW, which scores a hit `2 - d` with
    `d = 1 - cos`, so a hit's cosine similarity is its score minus one.

    Writes are visible to searches only after the engine refreshes the index (about a second
    on a domain, longer on Serverless, which has no `refresh` parameter), so two upserts of one
    key in quick succession can leave two documents: every upsert deletes all older documents
    of its key, and `search` and `inventory` keep only the newest document per key.
    """

    def __init__(self, client: Any, index: str, serverless: bool = False) -> None:
        self.client = client
        self.index = index
        self.serverless = serverless  # Serverless has no `refresh` parameter on writes

    def ensure_index(self, dimensions: int) -> None:
        """Create the index if it does not exist (the deployment's custom resource calls it)."""
        if not self.client.indices.exists(index=self.index):
            self.client.indices.create(index=self.index, body=index_body(dimensions))

    def upsert(self, docs: list[MemoryDoc]) -> int:
        if not docs:
            return 0
        current = self._current([d.key for d in docs])
        operations: list[dict[str, Any]] = []
        written = 0
        for doc in docs:
            stored = current.get(doc.key)
            if stored is not None:
                ids, version, model = stored
                if version > doc.version or (
                    version == doc.version and model == doc.embedding_model
                ):
                    continue
                operations += [{"delete": {"_index": self.index, "_id": i}} for i in ids]
            operations.append({"index": {"_index": self.index}})
            operations.append({**doc.model_dump(), "key": doc.key})
            current[doc.key] = ([], doc.version, doc.embedding_model)
            written += 1
        if operations:
            response = self.client.bulk(body=operations)
            if response.get("errors"):
                failed = [i for i in response["items"] if next(iter(i.values())).get("error")]
                raise RuntimeError(f"bulk write failed for {len(failed)} operations: {failed[:3]}")
        return written

    def delete(self, key: str, version: int) -> bool:
        query = {
            "bool": {"filter": [{"term": {"key": key}}, {"range": {"version": {"lte": version}}}]}
        }
        return self._delete_by_query(query) > 0

    def delete_keys(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        deleted = 0
        for start in range(0, len(keys), 500):
            deleted += self._delete_by_query({"terms": {"key": keys[start : start + 500]}})
        return deleted

    def delete_expired(self, now: float) -> int:
        return self._delete_by_query({"range": {"expires_at": {"lte": now}}})

    def search(
        self, tenant: str, namespace: str, vector: list[float], k: int, now: float
    ) -> list[MemoryHit]:
        scope = {
            "bool": {
                "filter": [{"term": {"tenant": tenant}}, {"term": {"namespace": namespace}}],
                "must_not": [{"range": {"expires_at": {"lte": now}}}],
            }
        }
        body = {
            "size": k,
            "_source": {"excludes": [VECTOR_FIELD]},
            "query": {"knn": {VECTOR_FIELD: {"vector": vector, "k": k, "filter": scope}}},
        }
        response = self.client.search(index=self.index, body=body)
        hits: list[MemoryHit] = []
        newest: dict[str, int] = {}
        for hit in response["hits"]["hits"]:
            src = hit["_source"]
            if src.get("tenant") != tenant or src.get("namespace") != namespace:
                continue
            if newest.get(src["memory_id"], -1) >= int(src["version"]):
                continue  # an older duplicate not yet deleted (see the class docstring)
            newest[src["memory_id"]] = int(src["version"])
            hits = [h for h in hits if h.memory_id != src["memory_id"]]
            hits.append(
                MemoryHit(
                    tenant=src["tenant"],
                    namespace=src["namespace"],
                    memory_id=src["memory_id"],
                    version=int(src["version"]),
                    text=src["text"],
                    created_at=float(src["created_at"]),
                    source_case=src.get("source_case"),
                    # cosinesimil scores 2 - (1 - cos): the similarity is the score minus one
                    score=float(hit["_score"]) - 1.0,
                )
            )
        return hits

    def inventory(self) -> dict[str, DocState]:
        found: dict[str, DocState] = {}
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": PAGE,
                "_source": ["key", "version", "embedding_model", "expires_at"],
                "query": {"match_all": {}},
                "sort": [{"key": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index=self.index, body=body)["hits"]["hits"]
            for hit in hits:
                src = hit["_source"]
                if src["key"] in found and found[src["key"]].version >= int(src["version"]):
                    continue
                found[src["key"]] = DocState(
                    key=src["key"],
                    version=int(src["version"]),
                    embedding_model=src["embedding_model"],
                    expires_at=src.get("expires_at"),
                )
            if len(hits) < PAGE:
                return found
            after = hits[-1]["sort"]

    # -- internals

    def _current(self, keys: list[str]) -> dict[str, tuple[list[str], int, str]]:
        """Per key: the ids of all its documents, and the newest one's version and model."""
        body = {
            "size": min(len(keys) * 4, 10_000),
            "_source": ["key", "version", "embedding_model"],
            "query": {"terms": {"key": keys}},
        }
        current: dict[str, tuple[list[str], int, str]] = {}
        for hit in self.client.search(index=self.index, body=body)["hits"]["hits"]:
            src = hit["_source"]
            ids, version, model = current.get(src["key"], ([], -1, ""))
            ids.append(hit["_id"])
            if int(src["version"]) > version:
                version, model = int(src["version"]), src["embedding_model"]
            current[src["key"]] = (ids, version, model)
        return current

    def _delete_by_query(self, query: dict[str, Any]) -> int:
        response = self.client.delete_by_query(index=self.index, body={"query": query})
        return int(response.get("deleted", 0))
