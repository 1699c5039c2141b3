"""A candidate: the current process with another prompt version, model or spec, for `aios eval`.

Written `key=value,key=value`:

- `prompt=v2`: version 2 of every prompt the process has (`<process>.<task>.v2`);
  `prompt.classify=NAME` / `prompt.plan=NAME`: one named template;
- `model=ID`: this model for every tier; `model.<tier>=ID`: for one tier;
- `spec=FILE`: another spec file (JSON or YAML) for the process, its prompts resolved in the
  process's folder.

The candidate spec is validated exactly like a deployed one.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from aios.errors import SpecError
from aios.prompts import load_prompt
from aios.specs import ProcessSpec, parse_spec, read_data_file
from aios.tiering import ModelConfig

_KEY = re.compile(r"^(prompt|prompt\.(classify|plan)|model|model\.[a-z][a-z0-9-]{0,31}|spec)$")
TASKS = ("classify", "plan")


def parse_candidate(text: str) -> dict[str, str]:
    """`key=value,...` as a dict; ValueError naming the bad item."""
    items: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value or not _KEY.match(key.strip()):
            raise ValueError(
                f"candidate item {part!r}: expected prompt=vN, prompt.<task>=NAME, model=ID, "
                "model.<tier>=ID or spec=FILE"
            )
        items[key.strip()] = value.strip()
    return items


def apply_candidate(
    spec: ProcessSpec, models: ModelConfig, items: dict[str, str]
) -> tuple[ProcessSpec, ModelConfig]:
    """The spec and model config the candidate describes; SpecError for a missing file."""
    if "spec" in items:
        path = Path(items["spec"])
        spec = parse_spec(read_data_file(path), source=path, folder=spec.folder)
    prompts = dict(spec.decision.prompts)
    if "prompt" in items:
        version = items["prompt"].lstrip("v")
        found = {
            task: f"{spec.name}.{task}.v{version}"
            for task in TASKS
            if spec.prompts_dir is not None
            and (spec.prompts_dir / f"{spec.name}.{task}.v{version}.txt").is_file()
        }
        if not found:
            raise SpecError(f"{spec.name} has no prompt of version v{version}")
        prompts.update(found)
    prompts.update({k.split(".", 1)[1]: v for k, v in items.items() if k.startswith("prompt.")})
    for name in prompts.values():
        load_prompt(name, spec.prompts_dir)
    decision = spec.decision.model_copy(update={"prompts": prompts})
    spec = spec.model_copy(update={"decision": decision})
    tiers = dict(models.tiers)
    if "model" in items:
        tiers = {tier: (items["model"],) for tier in tiers}
    tiers.update({k.split(".", 1)[1]: (v,) for k, v in items.items() if k.startswith("model.")})
    return spec, dataclasses.replace(models, tiers=tiers)
