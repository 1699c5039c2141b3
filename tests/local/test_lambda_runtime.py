"""In-process Lambda: environment, layer isolation, error reporting, the moto patch guard."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from local import moto_patches
from local.assembly import FunctionSpec
from local.lambda_runtime import FunctionNotFound, LambdaRuntime
from tests.local.conftest import write_function

HANDLER = """
import os
import fakelayer

AT_IMPORT = os.environ.get("GREETING")

def handler(event, context):
    if event.get("fail"):
        raise KeyError("no such thing")
    return {
        "at_import": AT_IMPORT,
        "now": os.environ.get("GREETING"),
        "layer": fakelayer.SETTING,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "profile": os.environ.get("AWS_PROFILE"),
        "context": [context.function_name, context.memory_limit_in_mb,
                    context.invoked_function_arn, bool(context.aws_request_id),
                    0 < context.get_remaining_time_in_millis() <= 3000],
    }
"""


@pytest.fixture
def runtime(tmp_path: Path) -> LambdaRuntime:
    layer = tmp_path / "layer" / "python"
    (layer / "fakelayer").mkdir(parents=True)
    # A layer module that reads its settings at import, like `aios.settings`.
    (layer / "fakelayer" / "__init__.py").write_text(
        "import os\nSETTING = os.environ.get('GREETING')\n"
    )
    rt = LambdaRuntime([layer], overrides={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    for name, greeting in (("one", "hello"), ("two", "bonjour")):
        folder = write_function(tmp_path, name, HANDLER)
        rt.register(
            FunctionSpec(
                name=name,
                folder=folder,
                handler="app.handler",
                environment={"GREETING": greeting},
                function_name=f"Stack-{name}",
                arn=f"arn:aws:lambda:us-east-1:123456789012:function:Stack-{name}",
            )
        )
    return rt


def test_function_sees_its_environment_and_own_layer_copy(
    runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "real-account")
    before = dict(os.environ)
    one = runtime.invoke("one", b"{}").json()
    two = runtime.invoke("arn:aws:lambda:us-east-1:123456789012:function:Stack-two", b"{}").json()
    again = runtime.invoke("Stack-one:$LATEST", b"{}").json()
    assert (one["at_import"], one["now"], one["layer"]) == ("hello", "hello", "hello")
    assert (two["at_import"], two["now"], two["layer"]) == ("bonjour", "bonjour", "bonjour")
    assert again["layer"] == "hello"
    assert one["endpoint"] == "http://127.0.0.1:1"
    assert one["profile"] is None
    assert one["context"] == [
        "Stack-one",
        128,
        "arn:aws:lambda:us-east-1:123456789012:function:Stack-one",
        True,
        True,
    ]
    assert dict(os.environ) == before
    assert "fakelayer" not in sys.modules


def test_unhandled_exception_is_reported_as_lambda_does(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("one", json.dumps({"fail": True}))
    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    payload = result.json()
    assert payload["errorType"] == "KeyError"
    assert payload["errorMessage"] == "'no such thing'"
    assert "app.py" in payload["stackTrace"][0]


def test_broken_cold_start_is_an_import_error(tmp_path: Path) -> None:
    rt = LambdaRuntime([])
    folder = write_function(tmp_path, "broken", "raise RuntimeError('missing env')\n")
    rt.register(FunctionSpec(name="broken", folder=folder, handler="app.handler", environment={}))
    result = rt.invoke("broken", b"{}")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.ImportModuleError"
    assert "missing env" in result.json()["errorMessage"]


def test_unknown_function_is_not_found(runtime: LambdaRuntime) -> None:
    with pytest.raises(FunctionNotFound):
        runtime.invoke("nope", b"{}")


def test_moto_patch_guard_fails_loudly_when_moto_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    moto_patches.check()  # the pinned moto has every patched symbol
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(moto_patches.MotoPatchError, match=r"pinned to moto 5\.2\.5"):
        moto_patches.check()
    monkeypatch.setattr(moto, "__version__", moto_patches.PINNED_MOTO_VERSION)
    monkeypatch.delattr(lambda_eval_utils, "boto_client_for")
    with pytest.raises(moto_patches.MotoPatchError, match="boto_client_for is gone"):
        moto_patches.check()


def test_other_threads_read_the_environment_whole_while_invocations_swap_it(
    runtime: LambdaRuntime,
) -> None:
    """botocore reads proxy settings from `os.environ.items()` whenever it creates a client:
    a thread doing so while an invocation swapped the environment used to hit a KeyError."""
    import threading
    import time
    import urllib.request

    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                urllib.request.getproxies_environment()
                os.environ.copy()
                list(os.environ)
            except KeyError as exc:
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        runtime.invoke("one", b"{}")  # each enters and leaves the function's environment
    done.set()
    thread.join()
    assert errors == []


SLOW_PRINTER = """
import os, time
from pathlib import Path

def handler(event, context):
    print("printed by the function")
    Path(event["started"]).touch()
    deadline = time.monotonic() + 30
    while not Path(event["go"]).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "done"
"""


def test_another_threads_prints_stay_out_of_a_running_functions_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo printed its verdict while a stream-driven function ran on another thread; the
    verdict landed in that function's log file instead of on the console."""
    import threading
    import time

    logs = tmp_path / "logs"
    rt = LambdaRuntime([tmp_path / "layer"], log_dir=logs)
    rt.register(
        FunctionSpec(
            name="printer",
            folder=write_function(tmp_path, "printer", SLOW_PRINTER),
            handler="app.handler",
            environment={},
            function_name="Stack-printer",
            arn="arn:aws:lambda:us-east-1:123456789012:function:Stack-printer",
        )
    )
    started, go = tmp_path / "started", tmp_path / "go"
    event = json.dumps({"started": str(started), "go": str(go)}).encode()
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(rt.invoke("printer", event).json()))
    thread.start()
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists(), "the function never started"
    print("printed by the console while the function runs")
    go.touch()
    thread.join(30)
    rt.close()

    assert results == ["done"]
    log = (logs / "printer.log").read_text()
    assert "printed by the function" in log
    assert "printed by the console" not in log
    assert "printed by the console while the function runs" in capsys.readouterr().out


PROVIDER_HANDLER = """
import os
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

def handler(event, context):
    seen = DEFAULT_PROVIDERS.get("secrets")
    DEFAULT_PROVIDERS.setdefault("secrets", os.environ["GREETING"])
    return seen
"""


def test_each_function_has_its_own_powertools_parameter_providers(tmp_path: Path) -> None:
    """Powertools caches one provider per kind, process-wide, with the first caller's client:
    on Lambda every function has its own; locally each function's are swapped in with it."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    rt = LambdaRuntime([])
    for name, greeting in (("one", "account-a"), ("two", "account-b")):
        folder = write_function(tmp_path, name, PROVIDER_HANDLER)
        spec = FunctionSpec(name, folder, "app.handler", {"GREETING": greeting})
        rt.register(spec)
    before = dict(DEFAULT_PROVIDERS)
    assert rt.invoke("one").json() is None
    assert rt.invoke("two").json() is None  # not the provider "one" made
    assert rt.invoke("one").json() == "account-a"
    assert rt.invoke("two").json() == "account-b"
    assert dict(DEFAULT_PROVIDERS) == before  # outside an invocation: as it was
