"""Labelled examples: inputs of a process with the decision a person expects for them.

A process keeps them as `processes/<name>/examples/*.json`, one example a file:

    {
      "input": {...},                                  the process input (its JSON schema)
      "expected": {
        "classification": {"intent": "billing"},       the fields that matter, compared exactly
        "actions": [                                   in order; params compared as a subset
          {"capability": "http.post", "params": {"body": {"amount": 20}}, "gate": "auto"}
        ],
        "handoff": null                                 or the reason a person must take it
      }
    }

`aios validate` checks every example against its process (input schema, allowed capabilities,
classification fields); `aios eval` replays them (`aios.evaluation`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aios import workspace
from aios.errors import InvalidInput, SpecError
from aios.plans import Classification, HandoffReason
from aios.specs import ProcessSpec, describe_errors, read_data_file

EXAMPLES_DIR = "examples"
Gate = Literal["auto", "approve", "deny"]


class ExpectedAction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    capability: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] | None = None
    """A subset of the proposed params: every key given must be there with this value."""
    gate: Gate | None = None


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    classification: dict[str, Any] = Field(default_factory=dict)
    actions: list[ExpectedAction] | None = None
    handoff: HandoffReason | None = None

    @model_validator(mode="after")
    def _known_fields(self) -> Expected:
        unknown = set(self.classification) - set(Classification.model_fields)
        if unknown:
            raise ValueError(f"classification has no field {sorted(unknown)[0]!r}")
        if self.handoff is not None and self.actions:
            raise ValueError("a handed-off case proposes no actions")
        return self


class LabelledExample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    input: dict[str, Any]
    expected: Expected


def parse_example(data: Any, *, source: Path, spec: ProcessSpec) -> LabelledExample:
    """One labelled example, checked against the spec; SpecError naming the file and field."""
    shown = workspace.display(source)
    try:
        example = LabelledExample.model_validate(data)
    except ValidationError as exc:
        problems = describe_errors(exc)
        detail = "; ".join(f"{f}: {m}" for f, m in problems)
        raise SpecError(f"{shown}: {detail}", file=shown, field=problems[0][0]) from exc
    try:
        spec.validate_input(example.input)
    except InvalidInput as exc:
        raise SpecError(
            f"{shown}: input.{exc.message}",
            file=shown,
            field=f"input.{exc.details.get('field')}",
        ) from exc
    for i, action in enumerate(example.expected.actions or []):
        if action.capability not in spec.allowed:
            field = f"expected.actions.{i}.capability"
            raise SpecError(
                f"{shown}: {field}: {action.capability!r} is not allowed for {spec.name}",
                file=shown,
                field=field,
            )
    return example.model_copy(update={"name": example.name or source.stem})


def load_examples(spec: ProcessSpec) -> list[LabelledExample]:
    """The process's labelled examples in file-name order; SpecError on the first bad one."""
    folder = spec.folder / EXAMPLES_DIR if spec.folder is not None else None
    if folder is None or not folder.is_dir():
        return []
    return [
        parse_example(read_data_file(path), source=path, spec=spec)
        for path in sorted(folder.glob("*.json"))
    ]


def load_workload(path: Path, spec: ProcessSpec) -> list[LabelledExample]:
    """Labelled examples from a JSON Lines file (one example a line, as in `examples/`), for
    workloads too large for a folder; SpecError naming the file and line of the first bad one."""
    import json

    examples: list[LabelledExample] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = path.with_name(f"{path.name}:{number}")
        try:
            data = json.loads(line)
        except ValueError as exc:
            shown = workspace.display(where)
            raise SpecError(f"{shown}: not JSON: {exc}", file=shown, field="") from exc
        example = parse_example(data, source=where, spec=spec)
        examples.append(
            example if data.get("name") else example.model_copy(update={"name": f"line {number}"})
        )
    return examples
