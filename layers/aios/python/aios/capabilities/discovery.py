"""Discovery of the user's capabilities: every module of the workspace's `capabilities/` package.

A module contributes the capabilities it registers while it is imported (`register(...)`), its
`CAPABILITY` and the items of its `CAPABILITIES`. Modules named `test_*` or `_*`, and packages
named `tests`, are skipped. Discovery is all or nothing: a module that fails to import, a
`Capability(...)` with a missing or malformed field, or a second capability with a taken name
raises CapabilityDefinitionError naming the file and the field, and nothing of the user's is
registered.

The package is imported under its own name, `capabilities`, from the workspace root, so a
user's modules import each other as `capabilities.<module>` locally, in tests and on Lambda.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from aios import workspace
from aios.capabilities import Capability
from aios.errors import CapabilityDefinitionError

PACKAGE = workspace.CAPABILITIES
REGISTERED = "__aios_registered__"
"""Where a module keeps the capabilities it registered when it was first imported."""


def discover(state: dict[str, Any]) -> list[tuple[str, Capability]]:
    """(defining file, capability) of every user capability; [] without a `capabilities/`."""
    directory = workspace.capabilities_dir()
    if directory is None:
        return []
    found: list[tuple[str, Capability]] = []
    for module_name, file in _module_names(directory):
        state["pending"] = []
        try:
            module = _import(module_name, file)
            registered: list[Capability] = list(state["pending"])
        finally:
            state["pending"] = None
        # A module imported before registers nothing now: reuse what it registered then.
        if registered:
            setattr(module, REGISTERED, registered)
        else:
            registered = list(getattr(module, REGISTERED, []))
        source = workspace.display(file)
        for capability in [*registered, *_declared(module, source)]:
            if all(capability is not c for _, c in found):
                found.append((source, capability))
    names: dict[str, str] = {}
    for source, capability in found:
        if capability.name in names:
            raise CapabilityDefinitionError(
                f"{source}: name: capability {capability.name!r} is already defined in "
                f"{names[capability.name]}",
                file=source,
                field="name",
            )
        names[capability.name] = source
    return found


def _module_names(directory: Path) -> Iterator[tuple[str, Path]]:
    """(module name, file) of the package and each of its modules, in a stable order."""
    package = _package(directory)
    yield PACKAGE, directory / "__init__.py"
    for info in sorted(
        pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}.", onerror=_walk_error),
        key=lambda i: i.name,
    ):
        parts = info.name.split(".")
        if any(p.startswith(("test", "_")) for p in parts[1:]):
            continue
        relative = Path(*parts[1:])
        file = directory / relative / "__init__.py" if info.ispkg else directory / f"{relative}.py"
        yield info.name, file


def _walk_error(name: str) -> None:
    raise CapabilityDefinitionError(f"{PACKAGE}: cannot import subpackage {name}")


def _package(directory: Path) -> ModuleType:
    """The `capabilities` package of `directory`; an import from another folder is replaced."""
    init = directory / "__init__.py"
    current = sys.modules.get(PACKAGE)
    if current is not None and Path(str(current.__file__)).resolve() == init.resolve():
        return current
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        PACKAGE, init, submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise CapabilityDefinitionError(f"{workspace.display(init)}: not importable")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[PACKAGE]
        raise _definition_error(workspace.display(init), exc) from exc
    return module


def _import(module_name: str, file: Path) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except CapabilityDefinitionError:
        raise
    except Exception as exc:
        raise _definition_error(workspace.display(file), exc) from exc


def _definition_error(source: str, exc: Exception) -> CapabilityDefinitionError:
    """The error of a module that failed to import, naming its file and the bad field."""
    if isinstance(exc, ValidationError):
        problems = [
            (".".join(str(p) for p in err["loc"]) or "<root>", err["msg"]) for err in exc.errors()
        ]
        detail = "; ".join(f"{exc.title}.{field}: {msg}" for field, msg in problems)
        return CapabilityDefinitionError(
            f"{source}: {detail}", file=source, field=f"{exc.title}.{problems[0][0]}"
        )
    return CapabilityDefinitionError(
        f"{source}: {type(exc).__name__}: {exc}", file=source, field="<module>"
    )


def _declared(module: ModuleType, source: str) -> list[Capability]:
    """The module's `CAPABILITY` and `CAPABILITIES`, each checked to be a Capability."""
    declared: list[Capability] = []
    if hasattr(module, "CAPABILITY"):
        declared.append(_checked(module.CAPABILITY, source, "CAPABILITY"))
    for i, item in enumerate(getattr(module, "CAPABILITIES", ()) or ()):
        declared.append(_checked(item, source, f"CAPABILITIES.{i}"))
    return declared


def _checked(value: Any, source: str, field: str) -> Capability:
    if not isinstance(value, Capability):
        raise CapabilityDefinitionError(
            f"{source}: {field}: must be a Capability(...), got {type(value).__name__}",
            file=source,
            field=field,
        )
    return value
