"""`aios eval`: shadow replays against labels give the known agreement, and change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.model_fakes import ScriptedProvider

ROOT = Path(__file__).resolve().parents[2]


def _offline_models():
    from aios.providers.offline import OfflineProvider
    from aios.tiering import offline_config

    return offline_config(OfflineProvider())


def test_the_labelled_ticket_set_gives_its_known_agreement() -> None:
    """Nine of ten labels match the keyword rules; "money-back" says billing without a keyword."""
    from aios.evaluation import evaluate, load_examples
    from aios.specs import get_spec

    spec = get_spec("ticket-triage")
    report = evaluate(
        _offline_models(), spec, load_examples(spec), source="examples", provider="offline"
    )
    assert len(report.results) == 10
    assert report.agreement() == pytest.approx(0.9)
    assert report.agreement("classification") == pytest.approx(0.9)
    assert report.agreement("actions") == pytest.approx(0.9)
    assert report.agreement("gates") == 1.0
    (failing,) = [r for r in report.results if not r.agrees]
    assert failing.name == "money-back"
    assert failing.disagreements[0] == "classification.intent: expected 'billing', got 'general'"
    totals = report.totals()
    assert totals["violations"] == 0 and totals["handoffs"] == 0
    assert totals["calls"] == 24  # 10 classify, 10 plan, 4 escalations of "general" (0.6 < 0.7)


def test_a_candidate_spec_that_denies_a_capability_disagrees_on_every_gate(tmp_path: Path) -> None:
    from aios.evaluation import evaluate, load_examples
    from aios.evaluation.candidate import apply_candidate, parse_candidate
    from aios.specs import get_spec

    data = json.loads((ROOT / "processes" / "ticket-triage" / "process.json").read_text())
    data["policy"]["deny"] = ["http.post"]
    candidate = tmp_path / "candidate.json"
    candidate.write_text(json.dumps(data))
    items = parse_candidate(f"spec={candidate},model=some-model")
    spec, models = apply_candidate(get_spec("ticket-triage"), _offline_models(), items)
    assert set(models.tiers.values()) == {("some-model",)}
    report = evaluate(
        models, spec, load_examples(spec), source="examples", provider="offline", candidate=items
    )
    assert report.agreement("gates") == 0.0
    assert report.agreement("classification") == pytest.approx(0.9)
    assert report.totals()["violations"] == 10  # one denied action per case
    assert "gate of action 1: expected 'auto', got 'deny'" in report.results[0].disagreements


def test_a_candidate_prompt_version_must_exist() -> None:
    from aios.errors import SpecError
    from aios.evaluation.candidate import apply_candidate, parse_candidate
    from aios.specs import get_spec

    with pytest.raises(SpecError, match="no prompt of version v9"):
        apply_candidate(get_spec("ticket-triage"), _offline_models(), parse_candidate("prompt=v9"))
    with pytest.raises(ValueError, match="candidate item 'temperature=0'"):
        parse_candidate("temperature=0")


def test_invalid_model_output_counts_as_a_violation_and_a_handoff() -> None:
    from aios.evaluation import Expected, LabelledExample, evaluate
    from aios.specs import get_spec
    from aios.tiering import offline_config

    spec = get_spec("refund-request")
    bad_plan = {"summary": "s", "actions": [{"capability": "email.send", "params": {}}]}
    classify = {
        "intent": "refund",
        "urgency": "normal",
        "language": "en",
        "risk": "medium",
        "confidence": 0.9,
    }
    models = offline_config(ScriptedProvider(classify=[classify], plan=[bad_plan]))
    example = LabelledExample(
        name="x", input=spec.example_input, expected=Expected(handoff="INVALID_MODEL_OUTPUT")
    )
    report = evaluate(models, spec, [example], source="examples", provider="scripted")
    assert report.agreement() == 1.0
    assert report.totals()["handoffs"] == 1
    assert report.totals()["violations"] == 2  # the refused answer and the refused repair


def test_replaying_the_ledger_compares_with_the_recorded_decisions_and_writes_nothing(
    ledger: str, kms, plan_key: str
) -> None:
    import boto3
    from aios import cases
    from aios.evaluation import evaluate
    from aios.ledger import recorded_decisions
    from aios.planning import CaseInput, decide_case
    from aios.specs import get_spec

    from local.eval_cli import _ledger_examples

    spec = get_spec("ticket-triage")
    for i, body in enumerate(("Charged twice, refund please", "The app is down, urgent")):
        started: list = []
        cases.submit_case(
            "ticket-triage",
            json.dumps({**spec.example_input, "ticket_id": f"T-{i}", "body": body}),
            tenant="acme",
            idempotency_key=None,
            start_execution=lambda _c, data, sink=started: sink.append(data),
        )
        decide_case(
            CaseInput(**started[0]),
            models=_offline_models(),
            kms=kms,
            key_id=plan_key,
            ttl_seconds=600,
        )
    recorded = recorded_decisions("ticket-triage")
    assert [len(r.actions) for r in recorded] == [2, 2]
    before = boto3.client("dynamodb").scan(TableName=ledger)["Count"]
    examples = _ledger_examples("ticket-triage", ledger, 10)
    report = evaluate(_offline_models(), spec, examples, source="ledger", provider="offline")
    assert report.agreement() == 1.0
    assert boto3.client("dynamodb").scan(TableName=ledger)["Count"] == before


def test_the_cli_gates_on_the_minimum_agreement(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.cli import main

    monkeypatch.setenv("AIOS_USER_ROOT", str(ROOT))  # the CLI sets it for its own process

    assert main(["eval", "ticket-triage"]) == 0
    assert "PASS: overall agreement 90.0%" in capsys.readouterr().out
    assert main(["eval", "ticket-triage", "--min-agreement", "0.95", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False and report["agreement"]["overall"]["rate"] == 0.9
    assert report["disagreements"][0]["case"] == "money-back"
    assert main(["eval", "no-such-process"]) == 2
