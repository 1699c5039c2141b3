"""Cold starts import only what a handler needs at once (a regression guard, not a timing).

Each handler is imported in a fresh interpreter as Lambda's init phase imports it (on Lambda,
tracing on, the OpenSearch memory engine configured); heavy modules that a handler only needs
later, or never, must not be loaded by the import. The timings are `bench/cold_start.py`'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "aios" / "python"
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
# Loaded at the first traced call, the first vector-store request, never by these handlers.
NEVER_AT_IMPORT = ("aws_xray_sdk.core", "opensearchpy", "requests")
# Claim checks (aios.memory.context) are on these handlers' path; the vector store is not.
NO_VECTOR_STORE = {"api", "decide", "execute"}
VECTOR_STORE = ("aios.memory.records", "aios.memory.store", "sqlite3")

ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "POWERTOOLS_TRACE_DISABLED": "false",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "cold-start-test",  # no request is made at import
    "AWS_SECRET_ACCESS_KEY": "cold-start-test",
    "AIOS_LEDGER_TABLE": "ledger",
    "AIOS_IDEMPOTENCY_TABLE": "idempotency",
    "AIOS_DECISION_TABLE": "decisions",
    "AIOS_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:cases",
    "AIOS_APPROVALS_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:a",
    "AIOS_HTTP_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:h",
    "AIOS_CONSOLE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c",
    "AIOS_CONSOLE_CLIENT_ID": "client",
    "AIOS_EVENT_BUS": "bus",
    "AIOS_WEBHOOK_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "AIOS_AUDIT_BUCKET": "audit-anchor",
    "AIOS_AUDIT_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/checkpoint",
    "AIOS_PLAN_KEY_ID": "key",
    "AIOS_MODEL_TIERS": json.dumps({"small": ["m"], "large": ["m"]}),
    "AIOS_MODEL_PRICES": json.dumps({"m": {"input_per_mtok": 1, "output_per_mtok": 2}}),
    "AIOS_MEMORY_ENGINE": "serverless",
    "AIOS_MEMORY_ENDPOINT": "https://memory.us-east-1.aoss.amazonaws.com",
    "AIOS_MEMORY_TABLE": "memory",
}

PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_import(handler: str) -> set[str]:
    """The modules loaded once `functions/<handler>/app.py` is imported in a fresh interpreter."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIOS_", "POWERTOOLS_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / handler / "app.py")],
        env={**clean, "PYTHONPATH": f"{LAYER}{os.pathsep}{ROOT}", **ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_import_leaves_xray_sdk_and_opensearch_for_first_use(handler: str) -> None:
    loaded = modules_after_import(handler)
    assert "aios.tracing" in loaded  # the probe imported the real handler
    assert sorted(m for m in NEVER_AT_IMPORT if m in loaded) == []
    if handler in NO_VECTOR_STORE:
        assert sorted(m for m in VECTOR_STORE if m in loaded) == []


def test_the_opensearch_client_is_made_once_at_its_first_use() -> None:
    from aios.memory.opensearch import LazyClient

    made: list[object] = []

    class Client:
        indices = "indices"

    def make() -> Client:
        made.append(Client())
        return made[-1]  # type: ignore[return-value]

    client = LazyClient(make)
    assert made == []
    assert client.indices == "indices"
    assert client.indices == "indices"
    assert len(made) == 1


def test_the_memory_package_names_load_with_their_module() -> None:
    import aios.memory
    from aios.memory.records import bind_memory_table

    assert aios.memory.bind_memory_table is bind_memory_table
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        aios.memory.nothing
