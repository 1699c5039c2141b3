"""Versioned prompt templates, named by process specs.

A template is a file `aios/prompts/<name>.txt` where the name ends in its version (for
example `ticket-triage.plan.v1`): a system part, a line `---`, and a user part, with
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
from string import Template
from typing import Any

from aios.errors import SpecError

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(classify|plan)\.v[0-9]+$")
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
def load_prompt(name: str) -> PromptTemplate:
    """The template called `name`; SpecError if the name is malformed or no such file ships."""
    if not NAME.match(name):
        raise SpecError(f"prompt name {name!r} must look like <process>.<classify|plan>.v<N>")
    entry = resources.files("aios.prompts") / f"{name}.txt"
    if not entry.is_file():
        raise SpecError(f"no prompt template {name!r}")
    raw = entry.read_bytes()
    text = raw.decode("utf-8")
    system, sep, user = text.partition(SEPARATOR)
    if not sep:
        raise SpecError(
            f"prompt template {name!r} needs a system part, a line '---' and a user part"
        )
    return PromptTemplate(
        name=name, system=system.strip(), user=user.strip(), sha256=hashlib.sha256(raw).hexdigest()
    )
