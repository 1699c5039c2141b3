"""Fixtures for the end-to-end tests: one emulation (synthesized once) for the whole package.

The emulation is package-scoped rather than session-scoped on purpose: moto's backends are
process-wide, and the unit tests' `mock_aws()` resets them, so the emulation is stopped before
other packages run. Every test here carries `xdist_group("emulation")`, so under
`pytest -n auto --dist loadgroup` they share one worker and one emulation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from tests.conftest import HANG_GUARD_S

T = TypeVar("T")

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs one line per call

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("emulation"))


def wait_for(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds, but never
    sooner than HANG_GUARD_S: a deadline guards against a hang, it checks no speed."""
    timeout = max(timeout, HANG_GUARD_S)
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}: last {last!r}")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A bare moto server on loopback, for the pieces (poller, provisioning) on their own."""
    from moto.server import ThreadedMotoServer

    from local import moto_patches

    moto_patches.fix_fifo_redelivery()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def aws_clients(moto_endpoint: str) -> Callable[[str], Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)


@pytest.fixture(scope="package")
def emulation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from local.emulation import Emulation

    logs = tmp_path_factory.mktemp("function-logs")
    emu = Emulation(api_port=0, function_log_dir=logs)
    emu.start()
    yield emu
    emu.stop()


def write_function(root: Path, name: str, source: str) -> Path:
    """A one-file Lambda function `<root>/functions/<name>/app.py`; returns its folder."""
    folder = root / "functions" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(source)
    return folder
