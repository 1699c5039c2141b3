"""The user's workspace: where the user-owned `processes/` and `capabilities/` are found.

A process is a folder `processes/<name>/` (spec, prompts, labelled examples); a custom
capability is a module of the `capabilities/` package. They live beside the kit, not in its
library. The workspace root is found the way Python finds a package, so the same rule holds
everywhere:

- `AIOS_USER_ROOT`, when set, names the root (tools and tests point it at another folder);
- otherwise the first `sys.path` entry holding a `processes/` folder or a `capabilities/`
  package: the repository root locally (the working directory, or the folder of `app.py`),
  `/opt/python` on Lambda, where the stack bundles both folders into the `user` layer, and
  that layer's folder in the local emulation, which puts it on the path the same way.

No root at all is not an error: the kit then has no processes and only its built-in
capabilities.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT_ENV = "AIOS_USER_ROOT"
PROCESSES = "processes"
CAPABILITIES = "capabilities"


def root() -> Path | None:
    """The workspace root (see the module docstring), or None when there is none."""
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        return Path(explicit).resolve()
    for entry in sys.path:
        base = Path(entry or ".")
        if (base / PROCESSES).is_dir() or (base / CAPABILITIES / "__init__.py").is_file():
            return base.resolve()
    return None


def processes_dir() -> Path | None:
    """`<root>/processes`, if the workspace has one."""
    base = root()
    folder = base / PROCESSES if base else None
    return folder if folder is not None and folder.is_dir() else None


def capabilities_dir() -> Path | None:
    """`<root>/capabilities`, if the workspace has that package."""
    base = root()
    folder = base / CAPABILITIES if base else None
    return folder if folder is not None and (folder / "__init__.py").is_file() else None


def display(path: Path) -> str:
    """A path as messages name it: relative to the workspace root when it is inside it."""
    base = root()
    try:
        return str(path.resolve().relative_to(base)) if base else str(path)
    except ValueError:
        return str(path)
