"""The operator console end to end through the emulation: signing in with the user pool, the
Cognito authorizer's refusals, roles and processes, CSRF, and the moves over HTTP.

Every refused request is shown to change nothing: the case stays HANDED_OFF, untaken, with
the same audit chain.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest
import requests

from local.cognito import create_user
from tests.local.console_client import (
    ConsoleUser,
    csrf_of,
    forged_token,
    handed_off_case,
    pool_signed_token,
    signed_in,
    user,
)
from tests.local.test_approvals import links, post, refund
from tests.local.test_end_to_end import example, finished_case, receiver_requests

pytestmark = pytest.mark.slow


def ticket(emulation: Any, ticket_id: str) -> str:
    process, body = example(emulation.api_url)
    return handed_off_case(emulation, process, {**body, "ticket_id": ticket_id})


def audit(api: str, case_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{api}/cases/{case_id}/audit", timeout=10).json())


@pytest.fixture(scope="module")
def waiting(emulation: Any) -> str:
    """One handed-off ticket-triage case the refusal tests try to move."""
    return ticket(emulation, "T-880001")


def test_sign_in_sets_the_id_token_as_an_httponly_secure_strict_cookie(emulation: Any) -> None:
    person = ConsoleUser(emulation.api_url, user(emulation, "operator"))
    answer = person.sign_in()
    cookie = [part.strip() for part in answer.headers["Set-Cookie"].split(";")]
    assert cookie[0].count(".") == 2 and "=" not in cookie[0]  # the ID token, nameless
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} <= set(cookie)
    assert answer.headers["Location"] == "/console"
    page = person.get("/console")
    assert page.status_code == 200 and "id=who>operator<" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    out = person.post("/console/sign-out", {})
    assert out.status_code == 303 and "Max-Age=0" in out.headers["Set-Cookie"]


def test_wrong_password_and_forged_sign_in_form_are_refused(emulation: Any) -> None:
    form = requests.get(f"{emulation.api_url}/console/sign-in", timeout=10)
    wrong = requests.post(
        f"{emulation.api_url}/console/sign-in",
        data={"csrf": csrf_of(form.text), "username": "operator", "password": "Wrong-pass-123"},
        allow_redirects=False,
        timeout=30,
    )
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    no_token = requests.post(
        f"{emulation.api_url}/console/sign-in",
        data={"username": "operator", "password": user(emulation, "operator").password},
        allow_redirects=False,
        timeout=30,
    )
    assert no_token.status_code == 403 and "Set-Cookie" not in no_token.headers


def test_refused_requests_change_nothing(emulation: Any, waiting: str) -> None:
    api = emulation.api_url
    before = audit(api, waiting)
    case_path = f"/console/cases/{waiting}"
    operator = signed_in(emulation, "operator")
    approver = signed_in(emulation, "approver")
    # Someone who operates refund-request only.
    cognito = emulation.client("cognito-idp")
    with contextlib.suppress(cognito.exceptions.GroupExistsException):
        cognito.create_group(GroupName="operator:refund-request", UserPoolId=emulation.user_pool_id)
    other = create_user(
        cognito, emulation.user_pool_id, f"refunds-{uuid.uuid4().hex[:6]}", "r@example.com",
        ["operator:refund-request"],
    )  # fmt: skip
    scoped = ConsoleUser(api, other)
    scoped.sign_in()
    csrf = csrf_of(operator.get(case_path).text)

    def raw_post(token: str, data: dict[str, str], **headers: str) -> int:
        sent = {"Cookie": token, "Origin": api, **headers} if token else {"Origin": api}
        return requests.post(
            f"{api}{case_path}/take", data=data, headers=sent, allow_redirects=False, timeout=30
        ).status_code

    expired = pool_signed_token(emulation, "operator", expires_in=-60)
    forged = forged_token(emulation, "operator", ["admin"])
    refusals = {
        "unauthenticated GET": requests.get(f"{api}{case_path}", timeout=10).status_code,
        "unauthenticated POST": raw_post("", {"csrf": csrf}),
        "forged JWT": raw_post(forged, {"csrf": csrf}),
        "expired JWT": raw_post(expired, {"csrf": csrf}),
        "malformed JWT": raw_post("not-a-token", {"csrf": csrf}),
        "no CSRF token": raw_post(operator.token, {}),
        "another session's CSRF token": raw_post(
            operator.token, {"csrf": csrf_of(scoped.get("/console").text)}
        ),
        "cross-origin POST": raw_post(
            operator.token, {"csrf": csrf}, Origin="https://evil.example"
        ),
        "wrong role (approver takes)": approver.post(
            f"{case_path}/take", {}, csrf_from="/console"
        ).status_code,
        "wrong process (take)": scoped.post(f"{case_path}/take", {}).status_code,
        "wrong process (case page)": scoped.get(case_path).status_code,
        "wrong process (queue)": scoped.get(
            "/console/queues/handoffs", process="ticket-triage"
        ).status_code,
    }
    assert refusals == {
        "unauthenticated GET": 401, "unauthenticated POST": 401, "forged JWT": 401,
        "expired JWT": 401, "malformed JWT": 401, "no CSRF token": 403,
        "another session's CSRF token": 403, "cross-origin POST": 403,
        "wrong role (approver takes)": 403, "wrong process (take)": 403,
        "wrong process (case page)": 403, "wrong process (queue)": 403,
    }  # fmt: skip
    # The scoped operator's own queue leaves out the other process's cases.
    assert waiting not in scoped.get("/console/queues/handoffs").text
    assert waiting in operator.get("/console/queues/handoffs").text
    # A browser that followed a link from elsewhere is offered to continue or to sign in.
    offered = requests.get(f"{api}{case_path}", timeout=10)
    assert offered.headers["Content-Type"].startswith("text/html")
    assert f'href="/console/sign-in?next={case_path}"' in offered.text
    assert offered.headers["Content-Security-Policy"] == "sandbox"
    after = audit(api, waiting)
    assert after["chain"] == before["chain"] and after["chain"]["valid"]
    page = operator.get(case_path)
    assert "id=status>HANDED_OFF<" in page.text and "id=holder>nobody<" in page.text


def test_nothing_changes_on_get(emulation: Any, waiting: str) -> None:
    operator = signed_in(emulation, "operator")
    before = audit(emulation.api_url, waiting)["chain"]
    for path in ("take", "return", "resolve", "cancel", "release"):
        answer = operator.get(f"/console/cases/{waiting}/{path}")
        assert answer.status_code == 405, (path, answer.status_code)
    assert operator.get(f"/console/cases/{waiting}/act").status_code == 200
    assert audit(emulation.api_url, waiting)["chain"] == before


def test_operator_takes_releases_and_returns_a_case_to_automation(emulation: Any) -> None:
    case_id = ticket(emulation, "T-880002")
    operator = signed_in(emulation, "operator")
    page = f"/console/cases/{case_id}"
    queue = operator.get("/console/queues/handoffs", order="newest")
    assert queue.status_code == 200 and case_id in queue.text and "BUDGET_EXHAUSTED" in queue.text
    shown = operator.get(page).text
    assert "id=handoff-reason>BUDGET_EXHAUSTED<" in shown and "Audit chain verified" in shown
    assert operator.post(f"{page}/take", {}, csrf_from=page).status_code == 303
    assert "id=holder>operator<" in operator.get(page).text
    empty_note = operator.post(f"{page}/return", {"note": " "}, csrf_from=page)
    assert empty_note.status_code == 400 and "note" in empty_note.text
    moved = operator.post(f"{page}/return", {"note": "budget raised, plan again"}, csrf_from=page)
    assert moved.status_code == 303, moved.text
    done = finished_case(emulation.api_url, case_id)
    assert done["status"] == "SUCCEEDED", done
    events = audit(emulation.api_url, case_id)["events"]
    returned = [e for e in events if e["type"] == "operator.returned"]
    assert returned and returned[0]["data"]["operator"] == "operator"
    assert returned[0]["data"]["note"] == "budget raised, plan again"


def test_act_by_hand_refuses_bad_params_then_applies_the_action_once(emulation: Any) -> None:
    case_id = ticket(emulation, "T-880003")
    operator = signed_in(emulation, "operator")
    page = f"/console/cases/{case_id}"
    form = operator.get(f"{page}/act", capability="http.post")
    assert form.status_code == 200 and "name='p.body'" in form.text
    fields = {
        "capability": "http.post",
        "p.target": "helpdesk",
        "p.path": "/tickets/T-880003/reply",
    }
    bad = operator.post(f"{page}/act", {**fields, "p.body": "{not json"}, csrf_from=page)
    assert bad.status_code == 400 and "body" in bad.text
    no_path = operator.post(f"{page}/act", {**fields, "p.path": "", "p.body": "{}"}, csrf_from=page)
    assert no_path.status_code == 400 and "path" in no_path.text
    other = operator.post(f"{page}/act", {**fields, "capability": "nope"}, csrf_from=page)
    assert other.status_code == 400 and "capability" in other.text
    assert "id=status>HANDED_OFF<" in operator.get(page).text
    body = '{"reply": "Refund issued by hand", "ticket": "T-880003"}'
    acted = operator.post(f"{page}/act", {**fields, "p.body": body}, csrf_from=page)
    assert acted.status_code == 303, acted.text
    done = finished_case(emulation.api_url, case_id)
    assert done["status"] == "SUCCEEDED", done
    received = [r for r in receiver_requests(emulation, case_id) if r["path"].endswith("/reply")]
    assert len(received) == 1
    events = audit(emulation.api_url, case_id)["events"]
    acted_events = [e for e in events if e["type"] == "operator.acted"]
    assert acted_events and acted_events[0]["data"]["operator"] == "operator"


def test_approver_decides_in_the_console_and_the_link_then_says_decided(emulation: Any) -> None:
    case_id = refund(emulation, order_id="O-2201", amount=80)
    [link] = links(emulation, case_id).values()
    approver = signed_in(emulation, "approver")
    page = f"/console/cases/{case_id}"
    shown = approver.get(page)
    assert shown.status_code == 200 and "id=approvals" in shown.text
    approval_id = link.split("?")[0].rsplit("/", 1)[-1]
    operator = signed_in(emulation, "operator")
    refused = operator.post(f"/console/approvals/{approval_id}", {"decision": "approve"},
                            csrf_from="/console")  # fmt: skip
    assert refused.status_code == 403
    decided = approver.post(
        f"/console/approvals/{approval_id}",
        {"decision": "approve", "comment": "ok"},
        csrf_from=page,
    )
    assert decided.status_code == 303, decided.text
    done = finished_case(emulation.api_url, case_id)
    assert done["status"] == "SUCCEEDED"
    assert done["actions"][0]["attestation"]["approvers"] == ["finance-lead"]
    again = post(link, "approve")
    assert again.status_code == 409
    decisions = [e for e in audit(emulation.api_url, case_id)["events"] if "decided" in e["type"]]
    assert decisions, "the decision is on the audit chain"
