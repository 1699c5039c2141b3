"""A loopback OpenSearch that checks each request against the documented k-NN API.

No OpenSearch server can run in CI, so the OpenSearch adapter is tested over HTTP against
this recorder. It accepts only the requests the kit may send, shaped as OpenSearch documents
them, and answers as OpenSearch does:

- `HEAD|GET /<index>`; `PUT /<index>` with `settings.index.knn: true` and a mapping with one
  `knn_vector` field (`dimension`, `method.name: hnsw`, `engine` faiss/lucene/nmslib,
  `space_type: cosinesimil`) plus `keyword` fields `tenant` and `namespace`;
- `POST [/<index>]/_bulk`: NDJSON `index` / `create` / `delete` action lines (a source line
  after `index`/`create`), trailing newline required;
- `POST /<index>/_search` with `query` one of `knn` (vector of the mapped dimension, `k`,
  optional `filter`), `bool` (`filter` / `must` / `must_not` / `should`), `term`, `terms`,
  `range`, `match_all`; `size`, `from`, `_source`, `sort`, `search_after`;
- `POST /<index>/_delete_by_query` with a non-k-NN `query`;
- `GET|HEAD /<index>/_doc/<id>`.

Anything else gets an OpenSearch-shaped 400 (`{"error": {"root_cause", "type", "reason"},
"status": 400}`), a missing index a 404 `index_not_found_exception`. Documents are stored and a
`knn` query ranks the filtered documents by exact cosine (efficient filtering: the filter
applies before the top k), scored as the engine documents for `cosinesimil`
(faiss/nmslib: `2 - d`, lucene: `(2 - d) / 2`, with `d = 1 - cos`).

Kit rules on top of the API (also 400s, reason prefixed `[kit]`): with `require_scoped_knn`, a
`knn` query must filter on a `tenant` and a `namespace` term (tenant isolation is enforced by
the engine, not only by the caller); with `serverless`, `_bulk` index actions may not name an
`_id` and writes may not pass `refresh` (as OpenSearch Serverless vector collections).
With `credentials`, every request must carry a valid SigV4 signature (service `aoss`/`es`).
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from local.loopback import LoopbackServer

ENGINES = {"faiss", "lucene", "nmslib"}
FIELD_TYPES = {
    "knn_vector",
    "keyword",
    "text",
    "long",
    "integer",
    "double",
    "float",
    "date",
    "boolean",
}
SEARCH_KEYS = {"size", "from", "query", "_source", "sort", "search_after", "track_total_hits"}
MAX_RESULT_WINDOW = 10_000


class OpenSearchError(Exception):
    def __init__(self, status: int, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.type, self.reason = status, type_, reason

    def body(self) -> dict[str, Any]:
        cause = {"type": self.type, "reason": self.reason}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


def bad(reason: str, type_: str = "illegal_argument_exception") -> OpenSearchError:
    return OpenSearchError(400, type_, reason)


def parsing(reason: str) -> OpenSearchError:
    return OpenSearchError(400, "parsing_exception", reason)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class Index:
    name: str
    settings: dict[str, Any]
    mappings: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.mappings["properties"])

    def vector_field(self) -> tuple[str, dict[str, Any]]:
        return next((k, v) for k, v in self.properties.items() if v["type"] == "knn_vector")


class OpenSearchRecorder(LoopbackServer):
    """Serve on 127.0.0.1 (an ephemeral port) until `stop()`; `requests` is what it saw."""

    def __init__(
        self,
        *,
        serverless: bool = False,
        require_scoped_knn: bool = True,
        credentials: dict[str, str] | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.serverless = serverless
        self.require_scoped_knn = require_scoped_knn
        self.credentials = credentials
        self.region = region
        self.indices: dict[str, Index] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                seen = Recorded(
                    self.command, unquote(url.path), parse_qs(url.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()}, body,
                )  # fmt: skip
                with recorder._lock:
                    recorder.requests.append(seen)
                    try:
                        recorder._check_signature(seen, self.path)
                        status, answer = recorder._route(seen)
                    except OpenSearchError as exc:
                        status, answer = exc.status, exc.body()
                seen.status = status
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler, 0, "opensearch-recorder")

    # -- routing

    def _route(self, req: Recorded) -> tuple[int, Any]:
        parts = [p for p in req.path.split("/") if p]
        m = req.method
        if parts == ["_bulk"] and m in ("POST", "PUT"):
            return self._bulk(None, req)
        if len(parts) == 1 and not parts[0].startswith("_"):
            name = parts[0]
            if m == "HEAD":
                return (200 if name in self.indices else 404), None
            if m == "GET":
                index = self._index(name)
                return 200, {
                    name: {"aliases": {}, "mappings": index.mappings, "settings": index.settings}
                }
            if m == "PUT":
                return self._create_index(name, req)
        if len(parts) == 2 and not parts[0].startswith("_"):
            name, endpoint = parts
            if endpoint == "_bulk" and m in ("POST", "PUT"):
                return self._bulk(name, req)
            if endpoint == "_search" and m in ("GET", "POST"):
                return self._search(self._index(name), _json(req.body) if req.body else {})
            if endpoint == "_delete_by_query" and m == "POST":
                return self._delete_by_query(self._index(name), req)
        if len(parts) == 3 and parts[1] == "_doc" and m in ("GET", "HEAD"):
            index = self._index(parts[0])
            doc = index.docs.get(parts[2])
            found = {"_index": index.name, "_id": parts[2], "found": doc is not None}
            if doc is None:
                return 404, found
            return 200, {**found, "_version": 1, "_seq_no": 0, "_primary_term": 1, "_source": doc}
        raise bad(f"no handler found for uri [{req.path}] and method [{m}]")

    def _index(self, name: str) -> Index:
        if name not in self.indices:
            raise OpenSearchError(404, "index_not_found_exception", f"no such index [{name}]")
        return self.indices[name]

    # -- index creation

    def _create_index(self, name: str, req: Recorded) -> tuple[int, Any]:
        if name in self.indices:
            raise bad(
                f"index [{name}/{uuid.uuid4().hex[:22]}] already exists",
                "resource_already_exists_exception",
            )
        body = _json(req.body)
        _only(body, {"settings", "mappings", "aliases"}, "index creation")
        settings = body.get("settings") or {}
        knn = (
            settings.get("index", {}).get("knn")
            if isinstance(settings.get("index"), dict)
            else settings.get("index.knn")
        )
        if knn is not True:
            raise bad("[kit] a k-NN index needs settings.index.knn: true")
        properties = (body.get("mappings") or {}).get("properties")
        if not isinstance(properties, dict) or not properties:
            raise bad("[kit] the mapping must declare its properties", "mapper_parsing_exception")
        vectors = 0
        for fname, spec in properties.items():
            kind = spec.get("type") if isinstance(spec, dict) else None
            if kind not in FIELD_TYPES:
                raise OpenSearchError(
                    400,
                    "mapper_parsing_exception",
                    f"No handler for type [{kind}] declared on field [{fname}]",
                )
            if kind == "knn_vector":
                vectors += 1
                _check_knn_vector(fname, spec)
        if vectors != 1:
            raise bad(
                "[kit] the memory index holds exactly one knn_vector field",
                "mapper_parsing_exception",
            )
        for fname in ("tenant", "namespace"):
            if properties.get(fname, {}).get("type") != "keyword":
                raise bad(
                    f"[kit] field [{fname}] must be mapped as keyword to filter on it",
                    "mapper_parsing_exception",
                )
        self.indices[name] = Index(name, settings, {"properties": properties})
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}

    # -- writes

    def _no_refresh(self, req: Recorded) -> None:
        if self.serverless and "refresh" in req.query:
            raise bad("[kit] OpenSearch Serverless does not support the refresh parameter")

    def _bulk(self, path_index: str | None, req: Recorded) -> tuple[int, Any]:
        self._no_refresh(req)
        text = req.body.decode()
        if not text.endswith("\n"):
            raise bad("The bulk request must be terminated by a newline [\\n]")
        lines = [line for line in text.split("\n") if line.strip()]
        items: list[dict[str, Any]] = []
        errors = False
        i = 0
        while i < len(lines):
            action = _json(lines[i].encode())
            if not isinstance(action, dict) or len(action) != 1:
                raise bad(f"Malformed action/metadata line [{i + 1}], expected a single action")
            op, meta = next(iter(action.items()))
            if op not in ("index", "create", "delete"):
                raise bad(
                    f"Malformed action/metadata line [{i + 1}], expected one of [create, delete, index] but found [{op}]"
                )
            _only(meta, {"_index", "_id"}, f"bulk {op}")
            index = self._index(meta.get("_index") or path_index or "")
            _id = meta.get("_id")
            if op == "delete":
                if not _id:
                    raise bad(
                        "Validation Failed: 1: id is missing;",
                        "action_request_validation_exception",
                    )
                found = index.docs.pop(str(_id), None) is not None
                items.append(
                    {
                        op: _item(
                            index.name,
                            str(_id),
                            "deleted" if found else "not_found",
                            200 if found else 404,
                        )
                    }
                )
                i += 1
                continue
            if self.serverless and _id:
                raise bad("[kit] Document ID is not supported in create/index operation request")
            if i + 1 >= len(lines):
                raise bad(
                    f"The bulk request must be terminated by a newline [\\n]; no source after line [{i + 1}]"
                )
            source = _json(lines[i + 1].encode())
            i += 2
            try:
                _check_source(index, source)
            except OpenSearchError as exc:
                errors = True
                items.append(
                    {
                        op: {
                            "_index": index.name,
                            "_id": _id,
                            "status": 400,
                            "error": exc.body()["error"],
                        }
                    }
                )
                continue
            doc_id = str(_id) if _id else uuid.uuid4().hex[:20]
            created = doc_id not in index.docs
            if op == "create" and not created:
                errors = True
                items.append(
                    {
                        op: {
                            "_index": index.name,
                            "_id": doc_id,
                            "status": 409,
                            "error": {
                                "type": "version_conflict_engine_exception",
                                "reason": f"[{doc_id}]: version conflict, document already exists",
                            },
                        }
                    }
                )
                continue
            index.docs[doc_id] = source
            items.append(
                {
                    op: _item(
                        index.name,
                        doc_id,
                        "created" if created else "updated",
                        201 if created else 200,
                    )
                }
            )
        return 200, {"took": 1, "errors": errors, "items": items}

    def _delete_by_query(self, index: Index, req: Recorded) -> tuple[int, Any]:
        self._no_refresh(req)
        body = _json(req.body)
        _only(body, {"query", "max_docs"}, "delete by query")
        if "query" not in body:
            raise bad("[kit] a delete by query without a query would delete every document")
        query = body["query"]
        if "knn" in query:
            raise bad("[kit] delete by query takes a filter query, not a knn query")
        _matches(index, {}, query)
        matches = [i for i, doc in index.docs.items() if _matches(index, doc, query)]
        for doc_id in matches:
            del index.docs[doc_id]
        return 200, {
            "took": 1, "timed_out": False, "total": len(matches), "deleted": len(matches), "batches": 1,
            "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0},
            "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": [],
        }  # fmt: skip

    # -- search

    def _search(self, index: Index, body: dict[str, Any]) -> tuple[int, Any]:
        _only(body, SEARCH_KEYS, "search")
        size, start = int(body.get("size", 10)), int(body.get("from", 0))
        if size < 0 or start < 0:
            raise bad("[size] and [from] must be non-negative")
        if size + start > MAX_RESULT_WINDOW:
            raise bad(
                f"Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{size + start}]."
            )
        query = body.get("query", {"match_all": {}})
        scored: list[tuple[float, str, dict[str, Any]]]
        if isinstance(query, dict) and "knn" in query:
            scored = self._knn(index, query)
        else:
            _matches(index, {}, query)  # parse the query even when there is nothing to match
            scored = [(1.0, i, d) for i, d in index.docs.items() if _matches(index, d, query)]
        sort = body.get("sort")
        keys: list[str] = []
        if sort is not None:
            for clause in sort if isinstance(sort, list) else [sort]:
                name, order = (
                    (clause, "asc") if isinstance(clause, str) else next(iter(clause.items()))
                )
                order = order.get("order", "asc") if isinstance(order, dict) else order
                if order != "asc" or index.properties.get(name, {}).get("type") not in (
                    "keyword",
                    "long",
                    "double",
                    "date",
                ):
                    raise bad(
                        f"[kit] sort by ascending keyword or numeric fields only, not [{name}]"
                    )
                keys.append(name)
            scored.sort(key=lambda s: tuple(s[2].get(k) for k in keys))
            after = body.get("search_after")
            if after is not None:
                if len(after) != len(keys):
                    raise bad("search_after has a different number of sort values than the sort")
                scored = [s for s in scored if tuple(s[2].get(k) for k in keys) > tuple(after)]
        elif "search_after" in body:
            raise bad("Sort must contain at least one field when search_after is used")
        total = len(scored)
        page = scored[start : start + size]
        hits = []
        for score, doc_id, doc in page:
            hit: dict[str, Any] = {"_index": index.name, "_id": doc_id, "_score": None if keys else score,
                                   "_source": _project(doc, body.get("_source", True))}  # fmt: skip
            if keys:
                hit["sort"] = [doc.get(k) for k in keys]
            hits.append(hit)
        top = None if keys or not page else max(s for s, _, _ in page)
        return 200, {
            "took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": total, "relation": "eq"}, "max_score": top, "hits": hits},
        }  # fmt: skip

    def _knn(self, index: Index, query: dict[str, Any]) -> list[tuple[float, str, dict[str, Any]]]:
        if len(query) != 1 or len(query["knn"]) != 1:
            raise parsing("[knn] query malformed, expected one field")
        fname, spec = next(iter(query["knn"].items()))
        mapped = index.properties.get(fname)
        if mapped is None or mapped["type"] != "knn_vector":
            raise bad(f"Field '{fname}' is not knn_vector type.", "query_shard_exception")
        _only(spec, {"vector", "k", "filter", "boost", "method_parameters"}, "knn")
        vector = spec.get("vector")
        if not isinstance(vector, list) or len(vector) != mapped["dimension"]:
            raise bad(
                f"Query vector has invalid dimension: {len(vector) if isinstance(vector, list) else 0}. Dimension should be: {mapped['dimension']}",
                "query_shard_exception",
            )
        k = spec.get("k")
        if not isinstance(k, int) or not 1 <= k <= MAX_RESULT_WINDOW:
            raise bad("[knn] requires k to be in the range [1, 10000]", "parsing_exception")
        scope = spec.get("filter")
        if self.require_scoped_knn and not (
            _has_term(scope, "tenant") and _has_term(scope, "namespace")
        ):
            raise bad("[kit] a knn query must filter on a tenant term and a namespace term")
        if scope is not None:
            _matches(index, {}, scope)
        engine = mapped["method"]["engine"]
        results = []
        for doc_id, doc in index.docs.items():
            if scope is not None and not _matches(index, doc, scope):
                continue
            cos = _cosine(vector, doc[fname])
            d = 1.0 - cos
            results.append((((2.0 - d) / 2.0) if engine == "lucene" else (2.0 - d), doc_id, doc))
        results.sort(key=lambda r: -r[0])
        return results[:k]

    # -- SigV4

    def _check_signature(self, req: Recorded, raw_path: str) -> None:
        if self.credentials is None:
            return
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        auth = req.headers.get("authorization", "")
        denied = OpenSearchError(403, "security_exception", "missing or invalid SigV4 signature")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise denied
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
        access_key, date, region, service, _ = fields["Credential"].split("/")
        secret = self.credentials.get(access_key)
        if secret is None or region != self.region or service not in ("aoss", "es"):
            raise denied
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            raise denied
        request = AWSRequest(
            method=req.method, url=f"http://{req.headers['host']}{raw_path}", data=req.body,
            headers={h: req.headers[h] for h in signed},
        )  # fmt: skip
        request.context["timestamp"] = req.headers["x-amz-date"]
        signer = SigV4Auth(
            Credentials(access_key, secret, req.headers.get("x-amz-security-token")),
            service,
            region,
        )
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != fields["Signature"] or not date == req.headers["x-amz-date"][:8]:
            raise denied
        stamp = datetime.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 300:
            raise denied


# -- request checks and query semantics


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise parsing(f"Failed to parse content to map: {exc}") from exc


def _only(body: Any, allowed: set[str], what: str) -> None:
    if not isinstance(body, dict):
        raise parsing(f"[{what}] expected an object")
    unknown = set(body) - allowed
    if unknown:
        raise parsing(f"[{what}] unknown field [{sorted(unknown)[0]}]")


def _check_knn_vector(name: str, spec: dict[str, Any]) -> None:
    _only(
        spec,
        {"type", "dimension", "method", "data_type", "mode", "compression_level"},
        f"{name} mapping",
    )
    dimension = spec.get("dimension")
    if not isinstance(dimension, int) or not 1 <= dimension <= 16_000:
        raise OpenSearchError(
            400,
            "mapper_parsing_exception",
            f"Dimension value must be between 1 and 16000 for [{name}]",
        )
    method = spec.get("method")
    if not isinstance(method, dict):
        raise bad(f"[kit] [{name}] needs an explicit method (hnsw)", "mapper_parsing_exception")
    _only(method, {"name", "engine", "space_type", "parameters"}, f"{name}.method")
    if method.get("name") != "hnsw":
        raise bad(
            f"[kit] [{name}] method must be hnsw, not [{method.get('name')}]",
            "mapper_parsing_exception",
        )
    if method.get("engine") not in ENGINES:
        raise OpenSearchError(
            400, "mapper_parsing_exception", f"Invalid engine: {method.get('engine')}"
        )
    if method.get("space_type") != "cosinesimil":
        raise bad(
            f"[kit] [{name}] space_type must be cosinesimil, not [{method.get('space_type')}]",
            "mapper_parsing_exception",
        )
    params = method.get("parameters") or {}
    _only(params, {"m", "ef_construction", "ef_search", "encoder"}, f"{name}.method.parameters")
    for pname in ("m", "ef_construction"):
        if pname in params and (not isinstance(params[pname], int) or params[pname] < 2):
            raise OpenSearchError(
                400, "mapper_parsing_exception", f"[{pname}] must be an integer >= 2"
            )


def _check_source(index: Index, source: Any) -> None:
    if not isinstance(source, dict):
        raise OpenSearchError(400, "mapper_parsing_exception", "failed to parse, document is empty")
    for name, value in source.items():
        spec = index.properties.get(name)
        if spec is None or value is None:
            continue
        kind = spec["type"]
        ok = {
            "knn_vector": lambda v: isinstance(v, list) and len(v) == spec["dimension"] and all(isinstance(x, int | float) and math.isfinite(x) for x in v),
            "keyword": lambda v: isinstance(v, str), "text": lambda v: isinstance(v, str),
            "long": lambda v: isinstance(v, int) and not isinstance(v, bool), "integer": lambda v: isinstance(v, int),
            "double": lambda v: isinstance(v, int | float), "float": lambda v: isinstance(v, int | float),
            "date": lambda v: isinstance(v, str | int), "boolean": lambda v: isinstance(v, bool),
        }[kind](value)  # fmt: skip
        if not ok:
            raise OpenSearchError(
                400, "mapper_parsing_exception", f"failed to parse field [{name}] of type [{kind}]"
            )


def _has_term(query: Any, name: str) -> bool:
    """Whether a filter restricts `name` to one value (a term in a filter/must position)."""
    if not isinstance(query, dict):
        return False
    if "term" in query:
        return name in query["term"]
    if "bool" in query:
        clauses = [*_as_list(query["bool"].get("filter")), *_as_list(query["bool"].get("must"))]
        return any(_has_term(c, name) for c in clauses)
    return False


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _matches(index: Index, doc: dict[str, Any], query: Any) -> bool:
    if not isinstance(query, dict) or len(query) != 1:
        raise parsing("[query] malformed, expected exactly one query clause")
    kind, spec = next(iter(query.items()))
    if kind == "match_all":
        return True
    if kind == "knn":
        raise bad("[kit] a knn query is only accepted as the top-level query of a search")
    if kind in ("term", "terms", "range"):
        if not isinstance(spec, dict) or len(spec) != 1:
            raise parsing(f"[{kind}] query malformed, expected one field")
        fname, cond = next(iter(spec.items()))
        if fname not in index.properties:
            return False
        value = doc.get(fname)
        if kind == "term":
            want = cond["value"] if isinstance(cond, dict) else cond
            return value == want
        if kind == "terms":
            if not isinstance(cond, list):
                raise parsing("[terms] query does not support a non-array value")
            return value in cond
        _only(cond, {"gt", "gte", "lt", "lte"}, "range")
        if value is None:
            return False
        return all(
            {"gt": value > b, "gte": value >= b, "lt": value < b, "lte": value <= b}[op]
            for op, b in cond.items()
        )
    if kind == "bool":
        _only(spec, {"filter", "must", "must_not", "should", "minimum_should_match"}, "bool")
        # Every clause is evaluated (no short circuit) so a malformed one is always refused.
        must = [
            _matches(index, doc, c)
            for c in [*_as_list(spec.get("filter")), *_as_list(spec.get("must"))]
        ]
        must_not = [_matches(index, doc, c) for c in _as_list(spec.get("must_not"))]
        should = [_matches(index, doc, c) for c in _as_list(spec.get("should"))]
        return all(must) and not any(must_not) and (not should or bool(must) or any(should))
    raise parsing(f"unknown query [{kind}]")


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return 0.0 if na == 0 or nb == 0 else dot / (na * nb)


def _project(doc: dict[str, Any], source: Any) -> dict[str, Any] | None:
    if source is True:
        return dict(doc)
    if source is False:
        return None
    if isinstance(source, list):
        return {k: v for k, v in doc.items() if k in source}
    if isinstance(source, dict):
        _only(source, {"includes", "excludes"}, "_source")
        inc, exc = source.get("includes"), set(source.get("excludes") or [])
        return {k: v for k, v in doc.items() if (inc is None or k in inc) and k not in exc}
    raise parsing("[_source] must be a boolean, a list or an object")


def _item(index: str, doc_id: str, result: str, status: int) -> dict[str, Any]:
    return {
        "_index": index, "_id": doc_id, "_version": 1, "result": result, "status": status,
        "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1,
    }  # fmt: skip
