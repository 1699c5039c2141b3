"""content-ops end to end through the emulation: a large edition translated, staged, previewed,
approved and published once per (item, platform, version); a re-run with no second effect; an
update that publishes a new version in place; a publish that timed out after the platform
stored it; a stale approval the execution plane refuses; a glossary violation handed to a
person. The platforms are the receiver's collections, which (like real ones) never dedupe."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.conftest import wait_for
from tests.local.test_approvals import case, links, post
from tests.local.test_end_to_end import finished_case, submit

pytestmark = pytest.mark.slow
PROCESS = "content-ops"
EXAMPLE = json.loads(
    (Path(__file__).parents[2] / "processes/content-ops/examples/weekly-48.json").read_text()
)["input"]
BASE = "/content.publish"


def edition(tag: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data["edition_id"] = f"weekly-{tag}"
    data["posts"][0]["post_id"] = f"post-{tag}"
    data.update(changes)
    return data


def start(emulation: Any, data: dict[str, Any]) -> str:
    response = submit(emulation.api_url, PROCESS, data, key=f"content-{uuid.uuid4()}")
    assert response.status_code == 202, response.text
    return str(response.json()["case_id"])


def approve(emulation: Any, case_id: str) -> requests.Response:
    [link] = links(emulation, case_id).values()
    answered = post(link, "approve")
    assert answered.status_code == 200, answered.text
    return answered


def items(emulation: Any, platform: str, external_id: str) -> list[dict[str, Any]]:
    collection = {"blog": "posts", "newsletter": "campaigns", "social": "statuses"}[platform]
    return [
        i
        for i in emulation.receiver.collection(f"{BASE}/{collection}")
        if i.get("external_id") == external_id
    ]


def writes(emulation: Any, external_id: str) -> list[str]:
    """The POSTs and PUTs the platforms received for an item (what would have an effect)."""
    return [
        f"{r.method} {r.path}"
        for r in emulation.receiver.requests
        if r.path.startswith(BASE)
        and r.method in ("POST", "PUT")
        and isinstance(r.json, dict)
        and r.json.get("external_id") == external_id
    ]


def entity(emulation: Any, key: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        from aios.ledger import get_entity
        from aios.tenants import scoped_entity_key

        found = get_entity(scoped_entity_key("default", key))
        return dict(found.state) if found else {}

    return emulation.runtime.call_in("api", read)


@pytest.fixture(scope="module")
def published(emulation: Any) -> dict[str, Any]:
    """A large edition (a post body over the queue's 64 KiB) run through approval."""
    data = edition("large")
    paragraph = "The ledger keeps each version of the post, and every approval binds it. "
    data["posts"][0]["body"] = "\n\n".join(f"{i}. {paragraph * 80}" for i in range(6))
    case_id = start(emulation, data)
    [link] = links(emulation, case_id, timeout=120).values()
    page = requests.get(link, timeout=30)
    answered = post(link, "approve")
    assert answered.status_code == 200, answered.text
    done = finished_case(emulation.api_url, case_id, timeout=120)
    return {"case_id": case_id, "page": page, "done": done}


def test_a_large_edition_is_staged_previewed_approved_and_published_once_per_platform(
    emulation: Any, published: dict[str, Any]
) -> None:
    done, page = published["done"], published["page"]
    assert done["status"] == "SUCCEEDED", done
    stage, publish = done["actions"]
    assert (stage["capability"], stage["status"]) == ("content.stage", "APPLIED")
    assert (publish["capability"], publish["status"]) == ("content.publish", "APPLIED")
    assert publish["attestation"]["type"] == "human"
    assert set(stage["params"]) == {"$claim"}, "the large body travelled as a claim check"
    assert stage["params"]["$claim"]["bytes"] > 64 * 1024
    # The preview: source and each translation side by side, SEO, glossary hits, the digest.
    assert page.status_code == 200
    for shown in ("en (source)", "de", "fr", "meta description", "slug", "glossary hits",
                  "Hauptbuch", "registre", "matches the approved digest", "will publish"):  # fmt: skip
        assert shown in page.text, shown
    post_state = entity(emulation, "post#post-large")
    assert post_state["version"] == 1 and set(post_state["translations"]) == {"de", "fr"}
    for key, platform in (("post#post-large", "blog"), ("post#post-large", "social"),
                          ("edition#weekly-large", "newsletter")):  # fmt: skip
        assert entity(emulation, f"publication#{key}#{platform}")["version"] == 1
    assert len(items(emulation, "blog", "post-large")) == 1
    assert len(items(emulation, "social", "post-large")) == 1
    assert len(items(emulation, "newsletter", "weekly-large")) == 1
    usage = done["usage"]
    assert usage["by_step"]["translate"]["calls"] > 0 and usage["by_step"]["judge"]["calls"] > 0
    audit = requests.get(f"{emulation.api_url}/cases/{published['case_id']}/audit", timeout=10)
    assert audit.json()["chain"]["valid"]


def test_a_rerun_publishes_nothing_twice_and_an_update_is_a_new_version_in_place(
    emulation: Any, published: dict[str, Any]
) -> None:
    data = edition("rerun")
    first = start(emulation, data)
    approve(emulation, first)
    assert finished_case(emulation.api_url, first)["status"] == "SUCCEEDED"
    before = writes(emulation, "post-rerun")
    again = start(emulation, data)
    approve(emulation, again)
    rerun = finished_case(emulation.api_url, again)
    assert rerun["status"] == "SUCCEEDED"
    effects = {p["effect"] for p in rerun["actions"][1]["result"]["published"]}
    assert effects == {"recorded"}
    assert writes(emulation, "post-rerun") == before, "no second effect on any platform"
    assert rerun["usage"]["by_step"]["translate"]["reused"] > 0

    data["posts"][0]["body"] += "\n\nAn update for this week."
    update = start(emulation, data)
    approve(emulation, update)
    assert finished_case(emulation.api_url, update)["status"] == "SUCCEEDED"
    [blog] = items(emulation, "blog", "post-rerun")
    assert (blog["version"], blog["revision"]) == (2, 2), "updated in place, not posted again"
    assert entity(emulation, "post#post-rerun")["version"] == 2


def test_a_publish_that_timed_out_after_the_platform_stored_it_is_found_not_repeated(
    emulation: Any, published: dict[str, Any]
) -> None:
    data = edition("timeout")
    case_id = start(emulation, data)
    [link] = links(emulation, case_id).values()
    emulation.receiver.inject_faults(
        504, path_contains=f"{BASE}/posts", after_store=True, method="POST"
    )
    post(link, "approve")
    done = finished_case(emulation.api_url, case_id, timeout=90)
    assert done["status"] == "SUCCEEDED", done
    assert len(items(emulation, "blog", "post-timeout")) == 1
    assert writes(emulation, "post-timeout").count(f"POST {BASE}/posts") == 1
    effects = {p["platform"]: p["effect"] for p in done["actions"][1]["result"]["published"]}
    assert effects["blog"] == "found"


def test_a_publish_approved_for_a_version_the_ledger_no_longer_holds_is_refused(
    emulation: Any, published: dict[str, Any]
) -> None:
    data = edition("stale")
    stale = start(emulation, data)
    wait_for(lambda: case(emulation.api_url, stale)["status"] == "WAITING_APPROVAL")
    data["posts"][0]["body"] += "\n\nEdited while the first version waited."
    newer = start(emulation, data)
    wait_for(lambda: case(emulation.api_url, newer)["status"] == "WAITING_APPROVAL")
    approve(emulation, stale)
    refused = finished_case(emulation.api_url, stale)
    assert refused["status"] == "FAILED"
    assert "approved digest" in json.dumps(refused["actions"][1].get("error"))
    assert writes(emulation, "post-stale") == []
    approve(emulation, newer)
    assert finished_case(emulation.api_url, newer)["status"] == "SUCCEEDED"
    assert [i["version"] for i in items(emulation, "blog", "post-stale")] == [2]


def test_a_glossary_term_still_missing_after_one_repair_goes_to_a_person(
    emulation: Any, published: dict[str, Any]
) -> None:
    data = edition("glossary")
    data["posts"][0]["body"] = "Written with the aios kit, a creator's toolbox."
    case_id = start(emulation, data)
    handed = wait_for(
        lambda: (c := case(emulation.api_url, case_id))["status"] == "HANDED_OFF" and c
    )
    assert handed["handoff"]["reason"] == "CHECK_FAILED"
    assert "AIOS Kit" in handed["handoff"]["detail"]
    assert handed["usage"]["repairs"] == 0 and handed["actions"] == []
    assert writes(emulation, "post-glossary") == []
