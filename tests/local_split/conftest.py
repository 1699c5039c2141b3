"""The emulation in the split layout: the decision plane in one emulated account, the execution
plane in another (`Emulation(split=True)`, docs/two-accounts.md).

A package of its own: moto's backends are process-wide, so this emulation must never run while
`tests/local`'s (package-scoped) one does; pytest finishes one package, and tears its fixtures
down, before the next. Its tests join the same xdist group, so they run in that one worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("emulation"))


@pytest.fixture(scope="package")
def split_emulation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from local.emulation import Emulation

    logs = tmp_path_factory.mktemp("split-function-logs")
    emu = Emulation(api_port=0, function_log_dir=logs, split=True)
    emu.start()
    yield emu
    emu.stop()
