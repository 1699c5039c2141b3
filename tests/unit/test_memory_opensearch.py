"""The OpenSearch adapter over HTTP (opensearch-py, SigV4) against a recorder that checks each
request against OpenSearch's documented k-NN API and answers as OpenSearch does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from aios.memory import HashingEmbedder
from aios.memory import opensearch as adapter
from aios.memory.opensearch import OpenSearchVectorStore, aws_client, index_body
from aios.memory.service import recall
from aios.memory.store import MemoryDoc, doc_key

from tests.unit.opensearch_recorder import OpenSearchRecorder

EMBEDDER = HashingEmbedder(32)
NOW = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
KEY, SECRET = "AKIDEXAMPLEMEMORY", "dummy-secret-for-the-recorder"


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> Iterator[OpenSearchRecorder]:
    serverless = getattr(request, "param", True)
    r = OpenSearchRecorder(serverless=serverless, credentials={KEY: SECRET}).start()
    yield r
    r.stop()


@pytest.fixture
def store(recorder: OpenSearchRecorder, monkeypatch: pytest.MonkeyPatch) -> OpenSearchVectorStore:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s = OpenSearchVectorStore(
        aws_client(recorder.url, "us-east-1", "aoss"), "aios-memory", serverless=True
    )
    s.ensure_index(EMBEDDER.dimensions)
    return s


def _doc(
    text: str, *, version: int = 1, tenant: str = "acme", memory_id: str = "m1", **kw: Any
) -> MemoryDoc:
    return MemoryDoc(
        tenant=tenant, namespace="support", memory_id=memory_id, version=version,
        embedding_model=EMBEDDER.model, text=text, created_at=NOW, vector=EMBEDDER.embed([text])[0], **kw,
    )  # fmt: skip


def _search(store: OpenSearchVectorStore, text: str, tenant: str = "acme", k: int = 5) -> list[Any]:
    return store.search(tenant, "support", EMBEDDER.embed([text])[0], k, NOW)


def test_ensure_index_creates_a_knn_index_once(
    store: OpenSearchVectorStore, recorder: OpenSearchRecorder
) -> None:
    index = recorder.indices["aios-memory"]
    vector = index.properties["vector"]
    assert index.settings["index"]["knn"] is True
    assert vector["dimension"] == EMBEDDER.dimensions
    assert vector["method"]["name"] == "hnsw" and vector["method"]["space_type"] == "cosinesimil"
    assert index.properties["tenant"]["type"] == index.properties["namespace"]["type"] == "keyword"
    store.ensure_index(EMBEDDER.dimensions)  # idempotent: HEAD answers 200, no second PUT
    assert [r.method for r in recorder.requests] == ["HEAD", "PUT", "HEAD"]


def test_upsert_keeps_the_newest_version(
    store: OpenSearchVectorStore, recorder: OpenSearchRecorder
) -> None:
    assert store.upsert([_doc("refund a double charge v2", version=2)]) == 1
    assert store.upsert([_doc("refund a double charge v1", version=1)]) == 0  # stale: refused
    assert store.upsert([_doc("refund a double charge v2", version=2)]) == 0  # replay: no-op
    assert [h.text for h in _search(store, "double charge")] == ["refund a double charge v2"]
    assert store.upsert([_doc("refund a double charge v3", version=3)]) == 1
    docs = recorder.indices["aios-memory"].docs.values()
    assert [(d["key"], d["version"]) for d in docs] == [(doc_key("acme", "support", "m1"), 3)]
    bulk = [r for r in recorder.requests if r.path.endswith("_bulk")]
    assert all(r.status == 200 and r.body.endswith(b"\n") for r in bulk)
    assert b'"_id"' not in bulk[0].body  # Serverless vector collections refuse custom ids


def test_a_reembedding_replaces_an_equal_version(store: OpenSearchVectorStore) -> None:
    store.upsert([_doc("late delivery", version=1)])
    other = _doc("late delivery", version=1).model_copy(update={"embedding_model": "titan@2"})
    assert store.upsert([other]) == 1
    assert store.inventory()[doc_key("acme", "support", "m1")].embedding_model == "titan@2"


def test_recall_never_returns_another_tenants_memory(
    store: OpenSearchVectorStore, recorder: OpenSearchRecorder
) -> None:
    text = "customer was charged twice; refunded the duplicate"
    store.upsert(
        [_doc(text, tenant="acme"), _doc("shipping address changed", tenant="acme", memory_id="m2")]
    )
    store.upsert([_doc(text, tenant="globex", memory_id="g1")])
    context = recall(
        tenant="globex",
        namespace="support",
        query=text,
        store=store,
        embedder=EMBEDDER,
        k=5,
        now=datetime.fromtimestamp(NOW, UTC),
    )
    assert [m.memory_id for m in context.memories] == ["g1"]
    assert context.memories[0].similarity == pytest.approx(1.0, abs=1e-4)  # score 2 - d mapped back
    hits = _search(store, text, tenant="acme")
    assert next(h.memory_id for h in hits) == "m1" and {h.tenant for h in hits} == {"acme"}
    # The engine filters (efficient filtering), not only the caller: the k-NN query carries both terms.
    knn = [
        json.loads(r.body)["query"]["knn"]["vector"]
        for r in recorder.requests
        if r.path.endswith("_search") and b'"knn"' in r.body
    ]
    assert len(knn) == 2 and set(knn[0]) == {"vector", "k", "filter"}
    assert all(r.status in (200, 404) for r in recorder.requests)
    assert _search(store, text, tenant="initech") == []


def test_expired_memories_are_not_recalled_and_are_deleted(store: OpenSearchVectorStore) -> None:
    store.upsert(
        [
            _doc("old lesson", expires_at=NOW - 1),
            _doc("fresh lesson", memory_id="m2", expires_at=NOW + 60),
        ]
    )
    assert [h.memory_id for h in _search(store, "lesson")] == ["m2"]
    assert store.delete_expired(NOW) == 1
    assert set(store.inventory()) == {doc_key("acme", "support", "m2")}


def test_delete_never_removes_a_newer_version(
    store: OpenSearchVectorStore, recorder: OpenSearchRecorder
) -> None:
    store.upsert([_doc("lesson", version=2)])
    key = doc_key("acme", "support", "m1")
    assert store.delete(key, 1) is False  # an old REMOVE arriving late
    assert key in store.inventory()
    assert store.delete(key, 2) is True
    assert store.inventory() == {}
    assert any(r.path.endswith("/_delete_by_query") for r in recorder.requests)


def test_delete_keys_removes_only_the_named_documents(store: OpenSearchVectorStore) -> None:
    store.upsert([_doc("a", memory_id="m1"), _doc("b", memory_id="m2"), _doc("c", memory_id="m3")])
    assert (
        store.delete_keys([doc_key("acme", "support", "m1"), doc_key("acme", "support", "m3")]) == 2
    )
    assert set(store.inventory()) == {doc_key("acme", "support", "m2")}


def test_inventory_pages_with_search_after(
    store: OpenSearchVectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "PAGE", 2)
    store.upsert([_doc(f"lesson {i}", memory_id=f"m{i}", version=i + 1) for i in range(5)])
    inventory = store.inventory()
    assert {k: v.version for k, v in inventory.items()} == {
        doc_key("acme", "support", f"m{i}"): i + 1 for i in range(5)
    }


def test_an_unrefreshed_duplicate_is_hidden_and_cleaned_up(
    store: OpenSearchVectorStore, recorder: OpenSearchRecorder
) -> None:
    # Two upserts within one refresh interval: the second did not see the first, so both exist.
    store.upsert([_doc("lesson v1", version=1)])
    index = recorder.indices["aios-memory"]
    first = next(iter(index.docs.values()))
    index.docs["older-duplicate"] = {**first}
    index.docs["newer-duplicate"] = {**first, "version": 2, "text": "lesson v2"}
    assert [(h.text, h.version) for h in _search(store, "lesson")] == [("lesson v2", 2)]
    assert store.inventory()[doc_key("acme", "support", "m1")].version == 2
    assert store.upsert([_doc("lesson v3", version=3)]) == 1
    assert [d["version"] for d in index.docs.values()] == [3]


def test_requests_are_signed_with_sigv4(
    store: OpenSearchVectorStore, recorder: OpenSearchRecorder
) -> None:
    store.upsert([_doc("signed")])
    for seen in recorder.requests:
        auth = seen.headers["authorization"]
        assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={KEY}/")
        assert "/us-east-1/aoss/aws4_request" in auth
        assert "x-amz-date" in seen.headers and "x-amz-content-sha256" in seen.headers
        assert seen.status in (200, 404)  # the recorder verified every signature


def test_a_wrong_signature_is_refused(
    recorder: OpenSearchRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opensearchpy.exceptions import AuthorizationException

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = OpenSearchVectorStore(aws_client(recorder.url, "us-east-1", "aoss"), "aios-memory")
    with pytest.raises(AuthorizationException):
        store.ensure_index(EMBEDDER.dimensions)


@pytest.mark.parametrize("recorder", [False], indirect=True)
def test_a_managed_domain_uses_the_es_service(
    recorder: OpenSearchRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    store = OpenSearchVectorStore(aws_client(recorder.url, "us-east-1", "es"), "aios-memory")
    store.ensure_index(EMBEDDER.dimensions)
    store.upsert([_doc("managed")])
    assert [h.text for h in _search(store, "managed")] == ["managed"]
    assert all(
        "/us-east-1/es/aws4_request" in r.headers["authorization"] for r in recorder.requests
    )


# -- the recorder itself rejects what OpenSearch (or the kit's rules) would


def _raw(recorder: OpenSearchRecorder, method: str, path: str, body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.request(
        method,
        recorder.url + path,
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )


@pytest.fixture
def open_recorder() -> Iterator[OpenSearchRecorder]:
    r = OpenSearchRecorder(serverless=True).start()
    _raw(r, "PUT", "/mem", index_body(4))
    yield r
    r.stop()


@pytest.mark.parametrize(
    ("method", "path", "body", "error"),
    [
        (
            "PUT",
            "/plain",
            {"mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 4}}}},
            "illegal_argument_exception",
        ),
        (
            "PUT",
            "/ip",
            {
                **index_body(4),
                "mappings": {
                    "properties": {
                        **index_body(4)["mappings"]["properties"],
                        "vector": {
                            "type": "knn_vector",
                            "dimension": 4,
                            "method": {
                                "name": "hnsw",
                                "engine": "faiss",
                                "space_type": "innerproduct",
                            },
                        },
                    }
                },
            },
            "mapper_parsing_exception",
        ),
        ("PUT", "/mem", index_body(4), "resource_already_exists_exception"),
        (
            "POST",
            "/mem/_search",
            {"query": {"knn": {"vector": {"vector": [1, 0, 0, 0], "k": 3}}}},
            "illegal_argument_exception",
        ),
        (
            "POST",
            "/mem/_search",
            {
                "query": {
                    "knn": {
                        "vector": {
                            "vector": [1, 0],
                            "k": 3,
                            "filter": {
                                "bool": {
                                    "filter": [
                                        {"term": {"tenant": "a"}},
                                        {"term": {"namespace": "n"}},
                                    ]
                                }
                            },
                        }
                    }
                }
            },
            "query_shard_exception",
        ),
        ("POST", "/mem/_search", {"query": {"fuzzy": {"text": "x"}}}, "parsing_exception"),
        ("POST", "/mem/_search", {"size": 10001}, "illegal_argument_exception"),
        ("POST", "/mem/_delete_by_query", {}, "illegal_argument_exception"),
        (
            "POST",
            "/mem/_bulk",
            b'{"index": {"_index": "mem"}}\n{"tenant": "a"}',
            "illegal_argument_exception",
        ),
        (
            "POST",
            "/mem/_bulk",
            b'{"index": {"_index": "mem", "_id": "x"}}\n{"tenant": "a"}\n',
            "illegal_argument_exception",
        ),
        (
            "POST",
            "/mem/_bulk",
            b'{"upsert": {"_index": "mem"}}\n{}\n',
            "illegal_argument_exception",
        ),
        ("POST", "/mem/_update_by_query", {}, "illegal_argument_exception"),
        ("POST", "/missing/_search", {}, "index_not_found_exception"),
    ],
)
def test_the_recorder_rejects_what_opensearch_would(
    open_recorder: OpenSearchRecorder, method: str, path: str, body: Any, error: str
) -> None:
    response = _raw(open_recorder, method, path, body)
    assert response.status_code in (400, 404)
    answer = response.json()
    assert answer["status"] == response.status_code and answer["error"]["type"] == error
    assert answer["error"]["root_cause"][0]["type"] == error


def test_the_recorder_ranks_by_cosine_within_the_filter(open_recorder: OpenSearchRecorder) -> None:
    lines = [
        {"tenant": "a", "namespace": "n", "key": "1", "vector": [1, 0, 0, 0]},
        {"tenant": "a", "namespace": "n", "key": "2", "vector": [1, 1, 0, 0]},
        {"tenant": "b", "namespace": "n", "key": "3", "vector": [1, 0, 0, 0]},
    ]
    ndjson = "".join(
        json.dumps({"index": {"_index": "mem"}}) + "\n" + json.dumps(d) + "\n" for d in lines
    )
    assert _raw(open_recorder, "POST", "/_bulk", ndjson.encode()).json()["errors"] is False
    scope = {"bool": {"filter": [{"term": {"tenant": "a"}}, {"term": {"namespace": "n"}}]}}
    answer = _raw(
        open_recorder,
        "POST",
        "/mem/_search",
        {
            "size": 5,
            "query": {"knn": {"vector": {"vector": [1, 0, 0, 0], "k": 5, "filter": scope}}},
        },
    ).json()
    hits = answer["hits"]["hits"]
    assert [h["_source"]["key"] for h in hits] == ["1", "2"]
    assert hits[0]["_score"] == pytest.approx(2.0) and hits[1]["_score"] == pytest.approx(
        1 + 2**-0.5
    )
