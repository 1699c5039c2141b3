"""The user's processes and capabilities at synth: validated, then bundled as the `user` layer.

`read_workspace` runs the same check as `aios validate` (`aios.catalog.validate_workspace`) on
the workspace root (`AIOS_USER_ROOT`, or the repository root): a bad spec, prompt, example or a
capability without a params model stops the synth with an error naming the file and the field.
`stage_user_layer` copies what Lambda needs into a layer folder:

    python/processes/<name>/process.json     the spec as validated (a YAML spec becomes JSON)
    python/processes/<name>/prompts/*.txt    its prompt templates
    python/processes/<name>/offline.py       its offline rules, if any
    python/processes/<name>/pipeline.py      its decision pipeline, if any (aios.pipelines)
    python/capabilities/...                  the capabilities package (tests and the
                                             local fakes in _loopback/ left out)

Lambda puts `/opt/python` on the path, where `aios.workspace` finds both folders; the local
emulation puts the synthesized layer's `python/` folder on its path the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The synth reads the workspace with the kit's own library, as the layer ships it.
if str(ROOT / "layers" / "aios" / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))

# Capability is re-exported (`as`): the stacks take the library's types from this module.
from aios.capabilities import Capability as Capability  # noqa: E402
from aios.capabilities import all_capabilities  # noqa: E402
from aios.catalog import Catalog, validate_workspace  # noqa: E402
from aios.specs import read_data_file, spec_file  # noqa: E402
from aios.workspace import ROOT_ENV  # noqa: E402

USER_LAYER_METADATA = "aios:layer"
_SKIP = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "test_*.py", "*_test.py", "tests", "conftest.py", "_loopback"
)


class WorkspaceError(ValueError):
    """The workspace has problems; the message lists each one with its file and field."""


@dataclass(frozen=True)
class Workspace:
    """What the stack needs of the user's workspace."""

    root: Path
    catalog: Catalog
    capabilities: dict[str, Capability]
    """Every registered capability (built-ins and the user's) by name."""
    sources: dict[str, str]

    @property
    def user_capabilities(self) -> dict[str, Capability]:
        return {n: c for n, c in self.capabilities.items() if self.sources[n] != "aios"}


def workspace_root() -> Path:
    explicit = os.environ.get(ROOT_ENV)
    return Path(explicit).resolve() if explicit else ROOT


@contextmanager
def _pinned(root: Path) -> Iterator[None]:
    """The library's workspace lookups answer `root` while the synth reads it."""
    previous = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = previous


def read_workspace(root: Path | None = None) -> Workspace:
    """The validated workspace; WorkspaceError listing every problem otherwise."""
    root = root or workspace_root()
    with _pinned(root):
        catalog = validate_workspace()
        if not catalog.ok:
            problems = "\n".join(f"  {p}" for p in catalog.problems)
            raise WorkspaceError(f"the workspace {root} has problems:\n{problems}")
        registered = all_capabilities()
    return Workspace(
        root=root,
        catalog=catalog,
        capabilities={n: c for n, (c, _) in registered.items()},
        sources={n: s for n, (_, s) in registered.items()},
    )


def stage_user_layer(workspace: Workspace, target: Path) -> Path:
    """Write the user layer's files under `target` (see the module docstring); returns it."""
    python = target / "python"
    processes = python / "processes"
    processes.mkdir(parents=True, exist_ok=True)
    for name, spec in sorted(workspace.catalog.processes.items()):
        assert spec.folder is not None
        folder = processes / name
        folder.mkdir()
        data: Any = read_data_file(spec_file(spec.folder))
        (folder / "process.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
        prompts = spec.folder / "prompts"
        if prompts.is_dir():
            shutil.copytree(prompts, folder / "prompts", ignore=_SKIP)
        for code in ("offline.py", "pipeline.py"):
            if (spec.folder / code).is_file():
                shutil.copy2(spec.folder / code, folder / code)
    capabilities = workspace.root / "capabilities"
    if (capabilities / "__init__.py").is_file():
        shutil.copytree(capabilities, python / "capabilities", ignore=_SKIP)
    return target
