"""The priced cost report: crafted counts with dollars worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aios.cost import Meter, load_prices, price, render
from aios.cost.estimate import Record, case_meter, case_path
from aios.cost.prices import TABLE, read_table


def _case() -> Meter:
    """Two cases' worth of usage, with round quantities."""
    m = Meter()
    for key, n in {
        "sfn_transitions": 12,  # 12 x 0.000025 = 0.0003
        "lambda_requests": 10,  # 10 x 0.0000002 = 0.000002
        "lambda_gb_seconds": 3,  # 3 x 0.0000133334 = 0.0000400002
        "dynamodb_rru": 40,  # 40 x 0.000000125 = 0.000005
        "dynamodb_wru": 16,  # 16 x 0.000000625 = 0.00001
        "sqs_requests": 8,  # 8 x 0.0000005 = 0.000004
        "kms_asymmetric": 2,  # 2 x 0.000015 = 0.00003
        "kms_symmetric": 10,  # 10 x 0.000003 = 0.00003
        "api_requests": 2,  # 2 x 0.0000035 = 0.000007
        "xray_traces": 20,  # 20 x 0.05 sampled x 0.000005 = 0.000005
        "log_bytes": 1024**3 / 1000,  # 0.001 GiB x 0.5 = 0.0005
        "eventbridge_events": 4,  # 4 x 0.000001 = 0.000004
    }.items():
        m.add(key, n)
    # 1,000,000 input + 100,000 output tokens of Haiku: 0.25 + 0.125 = 0.375
    m.add_tokens("anthropic.claude-3-haiku-20240307-v1:0", input=1_000_000, output=100_000)
    return m


def test_priced_report_of_crafted_counts_has_the_hand_worked_dollars() -> None:
    report = price(_case(), load_prices("us-east-1"), cases=2)
    infra = (
        0.0003 + 0.000002 + 0.0000400002 + 0.000005 + 0.00001 + 0.000004 + 0.00003
        + 0.00003 + 0.000007 + 0.000005 + 0.0005 + 0.000004
    )  # fmt: skip
    assert report.infrastructure_usd == pytest.approx(infra, rel=1e-9)
    assert report.model_usd == pytest.approx(0.375, rel=1e-9)
    body = report.to_dict()
    assert body["usd_per_1000_cases"] == pytest.approx((infra + 0.375) / 2 * 1000, rel=1e-6)
    assert body["infrastructure_usd_per_1000_cases"] == pytest.approx(infra / 2 * 1000, rel=1e-6)
    items = {i["item"]: i for i in body["items"]}
    assert items["sfn_transitions"]["quantity_per_case"] == 6
    assert items["sfn_transitions"]["usd_per_1000_cases"] == pytest.approx(0.15)
    assert items["kms_asymmetric"]["usd_per_1000_cases"] == pytest.approx(0.015)
    assert items["model:anthropic.claude-3-haiku-20240307-v1:0:output"][
        "usd_per_1000_cases"
    ] == pytest.approx(62.5)
    assert "Step Functions state transitions" in render(report)


def test_cached_tokens_use_the_cache_rates_and_models_without_them_bill_input() -> None:
    prices = load_prices()
    m = Meter().add_tokens("anthropic.claude-3-haiku-20240307-v1:0", cache_read=1_000_000)
    assert price(m, prices).model_usd == pytest.approx(0.25)  # no cache rate: the input rate
    m = Meter().add_tokens("unknown.model", input=10)
    report = price(m, prices)
    assert report.model_usd == 0 and report.unpriced_models == ("unknown.model",)


def test_a_region_overrides_only_the_prices_it_names(tmp_path: Path) -> None:
    table = json.loads(TABLE.read_text())
    table["regions"] = {"eu-central-1": {"stepfunctions.transition": 0.00003}}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    eu = load_prices("eu-central-1", path=path)
    assert eu.usd("stepfunctions.transition") == 0.00003
    assert eu.usd("lambda.request") == load_prices().usd("lambda.request")
    assert eu.overridden == ("stepfunctions.transition",)
    report = price(Meter().add("sfn_transitions", 1000), eu)
    assert report.infrastructure_usd == pytest.approx(0.03)
    table["regions"] = {"eu-central-1": {"no.such.item": 1.0}}
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match=r"regions.eu-central-1: unknown price item no.such.item"):
        read_table(path)


def test_every_price_names_its_source_and_date() -> None:
    table = read_table()
    for name, p in table.services.items():
        assert p.source.startswith("https://") and p.as_of, name
    for name, r in table.models.items():
        assert r.source.startswith("https://") and r.as_of, name


def test_an_unknown_item_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown cost item"):
        Meter().add("sfn_transitionz", 1)


def _records(gates: list[str], status: str = "SUCCEEDED") -> list[Record]:
    """An auto case's ledger: the case, its plan, its actions applied, nine audit events."""
    out = [Record("case", status, 700, {}), Record("plan", "SIGNED", 2000, {"actions": [
        {"gate": g} for g in gates]})]  # fmt: skip
    out += [Record("action", "APPLIED", 1800, {"gate": g}) for g in gates]
    out += [Record("audit", "x", 500, {}, created_at=f"t{i // 3}") for i in range(9)]
    return out


def test_the_estimate_of_an_auto_case_counts_the_flows_steps() -> None:
    meter = case_meter(_records(["auto", "auto"]), "SUCCEEDED")
    c = meter.counts
    # Decide, Decided, AutoActions: both actions in one message (SUCCEEDED is recorded on the
    # status change)
    assert c["sfn_transitions"] == 3
    with_memory = case_meter(_records(["auto", "auto"]), "SUCCEEDED", memory_steps=True)
    assert with_memory.counts["sfn_transitions"] == 5  # Recall and LearnSuccess
    assert c["kms_asymmetric"] == 1 and c["api_requests"] == 1
    assert c["sqs_requests"] == 3  # send, receive, delete of the one message
    assert c["eventbridge_events"] == 9
    # api, decide, execute once, finalize, case_events (9 audit events, two a batch)
    assert c["lambda_requests"] == 1 + 1 + 1 + 1 + 5
    # Auto actions on two entities go one message each, through the gated Map.
    apart = _records(["auto", "auto"])
    apart[1] = Record("plan", "SIGNED", 2000, {"actions": [
        {"gate": "auto", "entity_key": f"ticket#{n}"} for n in (1, 2)]})  # fmt: skip
    two = case_meter(apart, "SUCCEEDED").counts
    assert two["sfn_transitions"] == 2 + 1 + 2 * 2 and two["sqs_requests"] == 6
    # audit 9 x 2; 3 commits x (case 2 + index 1); plan 2 x 2; actions 2 x (4 + 4); entity 2 x 2
    assert c["dynamodb_wru"] == 18 + 9 + 4 + 16 + 4
    gated = case_meter(_records(["auto", "approve"]), "SUCCEEDED")
    assert gated.counts["sfn_transitions"] == 2 + 1 + 2 * 2  # a Gate and its next state each
    approved = [*_records(["approve"]), Record("approval", "APPROVED", 900, {})]
    # Decide, Decided, Actions, Gate, RequestApproval, Approval, AwaitApproval, Approval,
    # Attested, Execute
    assert case_meter(approved, "SUCCEEDED").counts["sfn_transitions"] == 10


def test_kms_signs_once_per_plan_per_signed_policy_attestation_and_per_approval() -> None:
    signed = {"attestation": {"claim": {"type": "policy"}, "signature": "s"}}
    auto = [Record("plan", "SIGNED", 900, signed), Record("action", "APPLIED", 900, {})]
    assert case_meter(auto, "SUCCEEDED").counts["kms_asymmetric"] == 2  # plan + policy
    approved = [*auto, Record("approval", "APPROVED", 900, {})]
    assert case_meter(approved, "SUCCEEDED").counts["kms_asymmetric"] == 3  # + human
    rejected = [*auto, Record("approval", "REJECTED", 900, {})]
    assert case_meter(rejected, "SUCCEEDED").counts["kms_asymmetric"] == 2
    waiting = [Record("case", "HANDED_OFF", 700, {}), Record("handoff", "WAITING", 800, {})]
    # Decide, Decided, RecordHandoff, AwaitOperator (and Recall with memory)
    assert case_meter(waiting, "HANDED_OFF", memory_steps=True).counts["sfn_transitions"] == 5
    assert case_path(_records(["auto"])) == "auto"
    assert (
        case_path([*_records(["approve"]), Record("approval", "APPROVED", 900, {})]) == "approved"
    )
