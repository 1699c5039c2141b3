"""`aios validate` and `aios new process|capability NAME`: the user's workspace from the shell.

`aios validate` loads and checks every capability, spec, prompt, offline rule set and labelled
example of the workspace (the repository root, or `--root`), prints what it found and every
problem with its file and field, and exits 1 if there is any (`cdk synth` runs the same check).
`aios new` writes a new process folder or capability that passes it (`local.scaffold`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "aios" / "python"


def add_parsers(commands: Any) -> None:
    validate = commands.add_parser(
        "validate", help="check every process, prompt, example and capability of the workspace"
    )
    validate.add_argument("--root", type=Path, default=None, help="workspace root (default: .)")
    new = commands.add_parser("new", help="scaffold a process or a capability")
    kinds = new.add_subparsers(dest="kind", required=True)
    for kind, example in (("process", "leave-request"), ("capability", "crm.close_ticket")):
        parser = kinds.add_parser(kind, help=f"a new {kind}, e.g. {example}")
        parser.add_argument("name")
        parser.add_argument("--root", type=Path, default=None, help="workspace root (default: .)")


def _root(given: Path | None) -> Path:
    return (given or Path.cwd()).resolve()


def validate(root: Path | None) -> int:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    os.environ["AIOS_USER_ROOT"] = str(_root(root))
    from aios.catalog import validate_workspace

    catalog = validate_workspace()
    print(catalog.summary())
    return 0 if catalog.ok else 1


def new(kind: str, name: str, root: Path | None) -> int:
    from local.scaffold import new_capability, new_process

    base = _root(root)
    try:
        written = new_process(base, name) if kind == "process" else new_capability(base, name)
    except (ValueError, FileExistsError) as exc:
        print(f"aios new {kind}: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(base)}")
    print(f"next: aios validate, then {'aios eval ' + name if kind == 'process' else 'pytest'}")
    return 0
