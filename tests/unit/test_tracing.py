"""The handlers' tracer: no X-Ray SDK at import, only botocore and httplib patched, on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "aios" / "python"

PROBE = """
import json, sys
from aios.tracing import new_tracer
tracer = new_tracer()
built = "aws_xray_sdk.core" in sys.modules
tracer.provider.in_subsegment  # the first traced call loads the SDK
from aws_xray_sdk.core import patcher
print(json.dumps({"built": built, "disabled": tracer.disabled,
                  "patched": sorted(patcher._PATCHED_MODULES)}))
"""


def probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT",)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_on_lambda_the_sdk_loads_at_the_first_trace_and_patches_only_what_the_kit_calls() -> None:
    result = probe(LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="false")
    assert result == {"built": False, "disabled": False, "patched": ["botocore", "httplib"]}


def test_where_tracing_is_off_nothing_is_patched() -> None:
    result = probe(POWERTOOLS_TRACE_DISABLED="true")
    assert result == {"built": False, "disabled": True, "patched": []}
