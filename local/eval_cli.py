"""`aios eval PROCESS`: replay inputs through a candidate decision plane in shadow, against labels.

    aios eval ticket-triage
    aios eval ticket-triage --candidate prompt=v2,model=anthropic.claude-3-haiku-20240307-v1:0
    aios eval ticket-triage --candidate spec=candidate.yaml --min-agreement 0.95 --json
    aios eval ticket-triage --from-ledger AiosKit-Ledger... [--endpoint-url URL] [--limit 50]

The inputs are the process's labelled examples (`processes/<name>/examples/*.json`), or the
newest decided cases of the process in a ledger table, labelled with what was decided then.
Nothing is signed, queued, cached, budgeted or applied (`aios.evaluation`). The provider,
model tiers and prices are cdk.json's (`model_provider`, `model_tiers`, `model_prices`);
`--provider` picks another: `offline` (the process's offline rules), `bedrock` (credentials
and region from the environment) or `openai` (`openai_base_url` from cdk.json or
`--openai-base-url`, key in $AIOS_OPENAI_API_KEY).

Exit status: 0 when overall agreement is at least `--min-agreement` (default 0.9), 1 below it,
2 when the process, a candidate or an example is invalid. So `aios eval` can gate a deploy.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "aios" / "python"
DEFAULT_MIN_AGREEMENT = 0.9


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "eval", help="replay labelled or recorded cases through a candidate, in shadow"
    )
    parser.add_argument("process")
    parser.add_argument(
        "--candidate",
        default="",
        help="prompt=vN | prompt.<task>=NAME | model=ID | model.<tier>=ID | spec=FILE, comma-separated",
    )
    parser.add_argument("--provider", choices=("offline", "bedrock", "openai"), default=None)
    parser.add_argument("--openai-base-url", default=None)
    parser.add_argument(
        "--from-ledger",
        metavar="TABLE",
        default=None,
        help="replay the newest decided cases of this ledger table instead of the examples",
    )
    parser.add_argument(
        "--examples",
        metavar="FILE",
        default=None,
        help="replay the labelled examples of this JSON Lines file instead of examples/",
    )
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (the emulation's)")
    parser.add_argument("--limit", type=int, default=50, help="cases read from the ledger")
    parser.add_argument("--min-agreement", type=float, default=DEFAULT_MIN_AGREEMENT)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _deploy_config() -> Any:
    """cdk.json's context as the stack reads it (provider, tiers, prices)."""
    sys.path.insert(0, str(ROOT))
    from stacks.config import AiosConfig

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return AiosConfig.from_mapping(
        {k: v for k, v in context.items() if k in AiosConfig.model_fields}
    )


def _models(config: Any, provider_name: str, openai_base_url: str | None) -> Any:
    """The model config of the replay: no cache and no budget, so nothing is written."""
    from aios.pricing import ModelPrice
    from aios.providers import get_provider
    from aios.tiering import ModelConfig

    options: dict[str, Any] = {}
    if provider_name == "openai":
        options = {
            "base_url": openai_base_url or config.openai_base_url or "",
            "api_key": os.environ.get("AIOS_OPENAI_API_KEY"),
        }
    return ModelConfig(
        provider=get_provider(provider_name, **options),
        provider_name=provider_name,
        tiers={tier: tuple(ids) for tier, ids in config.model_tiers.items()},
        prices={m: ModelPrice(**p.model_dump()) for m, p in config.model_prices.items()},
        cache_ttl_seconds=0,
        enforce_budgets=False,
    )


def _ledger_examples(process: str, table: str, limit: int) -> list[Any]:
    from aios.evaluation import Expected, ExpectedAction, LabelledExample
    from aios.ledger import bind_ledger, recorded_decisions

    bind_ledger(table)
    examples = []
    for recorded in recorded_decisions(process, limit):
        classification = {
            k: v for k, v in (recorded.classification or {}).items() if k != "confidence"
        }
        examples.append(
            LabelledExample(
                name=recorded.case_id,
                input=recorded.input,
                expected=Expected(
                    classification=classification,
                    actions=None
                    if recorded.handoff
                    else [ExpectedAction.model_validate(a) for a in recorded.actions],
                    handoff=recorded.handoff,
                ),
            )
        )
    return examples


def run(args: Any) -> int:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    os.environ.setdefault("AIOS_USER_ROOT", str(Path.cwd()))  # the workspace: where aios runs
    from aios.errors import AiosError
    from aios.evaluation import evaluate, load_examples, load_workload
    from aios.evaluation.candidate import apply_candidate, parse_candidate
    from aios.specs import get_spec

    try:
        config = _deploy_config()
        models = _models(config, args.provider or config.model_provider, args.openai_base_url)
        items = parse_candidate(args.candidate)
        spec, models = apply_candidate(get_spec(args.process), models, items)
        if args.from_ledger:
            examples = _ledger_examples(args.process, args.from_ledger, args.limit)
            source = f"the ledger table {args.from_ledger} (recorded decisions)"
        elif args.examples:
            examples = load_workload(Path(args.examples).resolve(), spec)
            source = args.examples
        else:
            examples = load_examples(spec)
            source = "its labelled examples"
    except (AiosError, ValueError) as exc:
        print(f"aios eval: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    if not examples:
        print(f"aios eval: no cases to replay for {args.process}", file=sys.stderr)
        return 2
    report = evaluate(
        models, spec, examples, source=source, provider=models.provider_name, candidate=items
    )
    overall = report.agreement() or 0.0
    passed = overall >= args.min_agreement
    if args.json:
        out = {**report.to_dict(), "min_agreement": args.min_agreement, "passed": passed}
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        print(report.table())
        verdict = "PASS" if passed else "FAIL"
        print(f"\n{verdict}: overall agreement {overall:.1%}, minimum {args.min_agreement:.1%}")
    return 0 if passed else 1
