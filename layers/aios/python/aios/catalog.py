"""Everything the user added, checked at once: `aios validate` and every `cdk synth` run this.

`validate_workspace` loads the workspace's capabilities (`aios.capabilities.discovery`), then
every process folder: its spec, every prompt file under `prompts/`, its offline rules and
every labelled example. It does not stop at the first problem: it returns them all, each
naming the file and the field (a dotted pydantic location), so one run shows what to fix.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from aios import workspace
from aios.capabilities import all_capabilities, reset_user_capabilities
from aios.errors import SpecError
from aios.evaluation.examples import EXAMPLES_DIR, parse_example
from aios.prompts import NAME as PROMPT_NAME
from aios.prompts import load_prompt
from aios.specs import PROMPTS_DIR, ProcessSpec, load_process, process_folders, read_data_file


@dataclass(frozen=True)
class Problem:
    """One thing to fix: where (file and field) and what."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Catalog:
    """What `validate_workspace` found."""

    root: Path | None
    processes: dict[str, ProcessSpec] = field(default_factory=dict)
    capabilities: dict[str, str] = field(default_factory=dict)
    """name -> the file that defines it ("aios" for the kit's built-ins)."""
    examples: dict[str, int] = field(default_factory=dict)
    prompts: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"workspace: {self.root or '(none)'}"]
        users = {n: s for n, s in self.capabilities.items() if s != "aios"}
        lines.append(
            f"capabilities: {len(self.capabilities)} ({len(users)} of the workspace"
            + (f": {', '.join(sorted(users))})" if users else ")")
        )
        for name, spec in sorted(self.processes.items()):
            lines.append(
                f"process {name} v{spec.version}: {len(spec.capabilities)} capabilities, "
                f"{len(self.prompts.get(name, []))} prompts, {self.examples.get(name, 0)} examples"
            )
        lines += [f"ERROR {p}" for p in self.problems]
        lines.append("valid" if self.ok else f"{len(self.problems)} problem(s)")
        return "\n".join(lines)


def _problem(exc: SpecError) -> Problem:
    return Problem(str(exc.details.get("file", "")), str(exc.details.get("field", "")), exc.message)


def validate_workspace() -> Catalog:
    """Load and check every capability, spec, prompt, offline rule set and example."""
    from aios.specs import load_specs

    load_specs.cache_clear()
    reset_user_capabilities()
    catalog = Catalog(root=workspace.root())
    try:
        catalog.capabilities = {name: src for name, (_, src) in all_capabilities().items()}
    except SpecError as exc:
        catalog.problems.append(_problem(exc))
        reset_user_capabilities(discover=False)  # check the specs against the built-ins
    try:
        _check_processes(catalog)
    finally:
        if not catalog.ok:
            reset_user_capabilities()
    return catalog


def _check_processes(catalog: Catalog) -> None:
    for folder in process_folders():
        prompts = _check_prompts(folder, catalog.problems)
        _check_offline_rules(folder, catalog.problems)
        try:
            spec = load_process(folder)
        except SpecError as exc:
            catalog.problems.append(_problem(exc))
            continue
        catalog.processes[spec.name] = spec
        catalog.prompts[spec.name] = prompts
        catalog.examples[spec.name] = _check_examples(spec, folder, catalog.problems)


def _check_prompts(folder: Path, problems: list[Problem]) -> list[str]:
    names: list[str] = []
    for path in sorted((folder / PROMPTS_DIR).glob("*.txt")):
        shown = workspace.display(path)
        if not PROMPT_NAME.match(path.stem):
            problems.append(
                Problem(shown, "<file>", f"{shown}: name must look like <process>.<task>.v<N>.txt")
            )
            continue
        try:
            load_prompt(path.stem, folder / PROMPTS_DIR)
        except SpecError as exc:
            problems.append(Problem(shown, "<file>", f"{shown}: {exc.message}"))
            continue
        names.append(path.stem)
    return names


def _check_offline_rules(folder: Path, problems: list[Problem]) -> None:
    """offline.py answers classify and plan (plan not when a pipeline plans); pipeline.py
    has plan(case, steps)."""
    piped = (folder / "pipeline.py").is_file()
    _check_module(folder / "offline.py", ("classify",) if piped else ("classify", "plan"), problems)
    _check_module(folder / "pipeline.py", ("plan",), problems)


def _check_module(path: Path, functions: tuple[str, ...], problems: list[Problem]) -> None:
    folder = path.parent
    if not path.is_file():
        return
    shown = workspace.display(path)
    spec = importlib.util.spec_from_file_location(f"aios_check_{path.stem}_{folder.name}", path)
    try:
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as exc:
        problems.append(Problem(shown, "<module>", f"{shown}: {type(exc).__name__}: {exc}"))
        return
    missing = [name for name in functions if not callable(getattr(module, name, None))]
    if missing:
        problems.append(Problem(shown, missing[0], f"{shown}: {missing[0]}: function missing"))


def _check_examples(spec: ProcessSpec, folder: Path, problems: list[Problem]) -> int:
    count = 0
    for path in sorted((folder / EXAMPLES_DIR).glob("*.json")):
        try:
            parse_example(read_data_file(path), source=path, spec=spec)
        except SpecError as exc:
            problems.append(_problem(exc))
            continue
        count += 1
    return count
