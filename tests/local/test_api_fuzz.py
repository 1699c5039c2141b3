"""schemathesis against the emulation's /openapi.json: every documented operation, fuzzed.

The checks: no 5xx (`not_a_server_error`), every status the API answers is documented for that
operation (`status_code_conformance`), and every response's content type is the documented one
(`content_type_conformance`). Examples per operation are bounded and derandomized, so the test
is short and repeatable; failures of all operations are reported together.
"""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 25


def _fuzz(operation: Any, mode: GenerationMode) -> str | None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:  # nothing to violate: e.g. an operation whose inputs are all strings
        return None
    except Exception as exc:  # every failure of every operation, reported at the end
        return f"{operation.method.upper()} {operation.path} ({mode}): {exc}"
    return None


def test_api_conforms_to_its_openapi_document(emulation: Any) -> None:
    schema = schemathesis.openapi.from_url(f"{emulation.api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {(op.method.upper(), op.path) for op in operations}
    routes = {(r.method, r.path) for r in emulation.deployment.routes} - {("GET", "/openapi.json")}
    assert routes <= documented, f"routes missing from /openapi.json: {routes - documented}"
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _fuzz(operation, mode))
    ]
    assert not failures, "\n\n".join(failures)


def test_errors_are_documented_json_not_422(emulation: Any) -> None:
    document = requests.get(f"{emulation.api_url}/openapi.json", timeout=10).json()
    submit = document["paths"]["/processes/{process}/cases"]["post"]["responses"]
    assert set(submit) == {"202", "400", "403", "404", "409"}
    error = submit["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert all(
        "422" not in operation["responses"]
        for item in document["paths"].values()
        for operation in item.values()
    )


def test_unsupported_methods_get_a_json_4xx(emulation: Any) -> None:
    for method, path, status in (
        ("TRACE", "/processes", 405),
        ("PROPFIND", "/processes", 405),
        ("TRACE", "/nowhere", 404),
    ):
        response = requests.request(method, f"{emulation.api_url}{path}", timeout=10)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["Content-Type"] == "application/json"
        assert set(response.json()["error"]) == {"code", "message"}
