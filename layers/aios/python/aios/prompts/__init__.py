"""Versioned prompt templates, named by process specs.

A template is a file `<name>.txt` where the name ends in its version (for example
`ticket-triage.plan.v1`), in the process's own `processes/<process>/prompts/` folder or, for
the kit's defaults (`default.classify.v1`, `default.plan.v1`), in this package. It holds a
system part, a line `---`, and a user part, with
`string.Template` placeholders `$input`, `$capabilities`, `$classification`, `$schema` and
`$repair`. Changing a prompt means adding a file with a new version and pointing the spec at it.
The version recorded with a plan, and used in the cache key, is the name plus a digest of the
file's bytes, so even an edit without a new name never reuses an old cached answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from aios.errors import SpecError

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z][a-z0-9_]{0,31}\.v[0-9]+$")
"""`<process>.<task>.v<N>`: the task is `classify`, `plan` or a process pipeline's own."""
SEPARATOR = "\n---\n"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: str
    sha256: str

    @property
    def version(self) -> str:
        """`<name>@<first 12 hex of the file's SHA-256>`: recorded with the plan."""
        return f"{self.name}@{self.sha256[:12]}"

    def render(self, **values: Any) -> tuple[str, str]:
        """(system, user) with every placeholder filled; values that are not text become JSON."""
        text = {
            k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)
            for k, v in values.items()
        }
        return Template(self.system).safe_substitute(text), Template(self.user).safe_substitute(
            text
        )


@cache
def load_prompt(name: str, folder: Path | None = None) -> PromptTemplate:
    """The template called `name`, from `folder` (a process's prompts) or the kit's defaults;
    SpecError if the name is malformed, no such file exists, or it lacks its two parts."""
    if not NAME.match(name):
        raise SpecError(f"prompt name {name!r} must look like <process>.<task>.v<N>")
    local = folder / f"{name}.txt" if folder is not None else None
    if local is not None and local.is_file():
        raw = local.read_bytes()
    else:
        entry = resources.files("aios.prompts") / f"{name}.txt"
        if not entry.is_file():
            where = f" in {folder.name}/ or" if folder is not None else ""
            raise SpecError(f"no prompt template {name!r}{where} among the kit's defaults")
        raw = entry.read_bytes()
    return parse_prompt(name, raw)


@cache
def parse_prompt(name: str, raw: bytes) -> PromptTemplate:
    """The template `name` from its bytes (a file's, or a deployed configuration's); SpecError
    if the name is malformed or the text lacks its two parts."""
    if not NAME.match(name):
        raise SpecError(f"prompt name {name!r} must look like <process>.<task>.v<N>")
    text = raw.decode("utf-8")
    system, sep, user = text.partition(SEPARATOR)
    if not sep:
        raise SpecError(
            f"prompt template {name!r} needs a system part, a line '---' and a user part"
        )
    return PromptTemplate(
        name=name, system=system.strip(), user=user.strip(), sha256=hashlib.sha256(raw).hexdigest()
    )
