"""The content-ops pipeline on the offline provider, without AWS: ensemble and judge per
language, the glossary checked by code (one repair, then a person), versions and reuse."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "layers" / "aios" / "python"))  # the kit's library (its layer)
sys.path.insert(0, str(ROOT))

from aios.pipelines import NeedsPerson, Steps, pipeline_for  # noqa: E402
from aios.providers import get_provider  # noqa: E402
from aios.specs import get_spec  # noqa: E402
from aios.tiering import Usage, offline_config  # noqa: E402

GLOSSARY = json.loads((HERE / "memory" / "content-ops.glossary.json").read_text())
EXAMPLE = json.loads((HERE / "examples" / "weekly-48.json").read_text())["input"]


def _run(data: dict[str, Any], ledger: dict[str, Any] | None = None) -> tuple[dict, Usage]:
    spec = get_spec("content-ops")
    usage = Usage()
    steps = Steps(
        offline_config(get_provider("offline")),
        usage,
        spec,
        "t1",
        "case-1",
        entity_state=lambda key: (ledger or {}).get(key),
        memory_reader=lambda tenant, ns: [{"text": json.dumps(t)} for t in GLOSSARY],
    )
    pipeline = pipeline_for(spec)
    assert pipeline is not None
    return pipeline.plan({"input": data}, steps), usage


def _staged(plan: dict[str, Any]) -> dict[str, Any]:
    return plan["actions"][0]["params"]


def test_every_language_gets_an_ensemble_a_judged_score_and_the_glossary() -> None:
    plan, usage = _run(EXAMPLE)
    post = _staged(plan)["posts"][0]
    assert set(post["translations"]) == {"de", "fr"}
    de = post["translations"]["de"]
    assert de["candidates"] == 2 and 0 < de["score"] <= 1 and 0 <= de["agreement"] <= 1
    assert "Hauptbuch" in de["body"] and "Freigabe" in de["body"] and "AIOS Kit" in de["body"]
    assert {h["term"] for h in de["glossary_hits"]} >= {"ledger", "approval", "digest"}
    assert all(h["ok"] for h in de["glossary_hits"])
    steps = usage.to_dict()["by_step"]
    assert steps["translate"]["calls"] == 2 * steps["judge"]["calls"] > 0
    assert post["seo"]["slug"] == "approvals-that-bind-to-the-digest"
    assert post["version"] == 1 and _staged(plan)["edition"]["version"] == 1


def test_a_term_no_candidate_nor_the_repair_renders_goes_to_a_person() -> None:
    data = json.loads(json.dumps(EXAMPLE))
    data["posts"][0]["body"] = "Written with the aios kit, the creator's toolbox."
    with pytest.raises(NeedsPerson, match="AIOS Kit"):
        _run(data)


def test_an_unchanged_post_keeps_its_version_and_reuses_every_translation() -> None:
    first, _ = _run(EXAMPLE)
    post = _staged(first)["posts"][0]
    ledger = {f"post#{post['post_id']}": post, "edition#weekly-2026-48": _staged(first)["edition"]}
    again, usage = _run(EXAMPLE, ledger)
    assert _staged(again)["posts"][0] == post
    assert usage.to_dict()["calls"] == 0
    assert usage.to_dict()["by_step"]["translate"]["reused"] > 0


def test_an_edited_post_is_a_new_version_translating_only_what_changed() -> None:
    first, _ = _run(EXAMPLE)
    post = _staged(first)["posts"][0]
    ledger = {f"post#{post['post_id']}": post, "edition#weekly-2026-48": _staged(first)["edition"]}
    edited = json.loads(json.dumps(EXAMPLE))
    edited["posts"][0]["body"] += "\n\nA new paragraph for this week."
    again, usage = _run(edited, ledger)
    assert _staged(again)["posts"][0]["version"] == 2
    steps = usage.to_dict()["by_step"]["translate"]
    assert steps["reused"] > 0 and steps["calls"] == 2 * 2  # one new segment, two languages
