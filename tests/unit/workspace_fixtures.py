"""A throwaway workspace (processes/ and capabilities/) for tests, and back to the real one."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def forget_workspace() -> None:
    from aios.capabilities import reset_user_capabilities
    from aios.specs import load_specs

    load_specs.cache_clear()
    reset_user_capabilities()
    for name in [n for n in sys.modules if n == "capabilities" or n.startswith("capabilities.")]:
        del sys.modules[name]


@pytest.fixture
def user_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty workspace root, pointed at by AIOS_USER_ROOT for the test."""
    (tmp_path / "processes").mkdir()
    (tmp_path / "capabilities").mkdir()
    (tmp_path / "capabilities" / "__init__.py").write_text("")
    monkeypatch.setenv("AIOS_USER_ROOT", str(tmp_path))
    forget_workspace()
    yield tmp_path
    monkeypatch.delenv("AIOS_USER_ROOT")
    forget_workspace()


def copy_process(root: Path, name: str) -> Path:
    """A copy of the repository's process `name` in the workspace at `root`."""
    target = root / "processes" / name
    shutil.copytree(ROOT / "processes" / name, target, ignore=shutil.ignore_patterns("tests"))
    return target


def edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
