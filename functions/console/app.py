"""console: the operator console, server-rendered HTML (no script, no build step).

Public routes: `GET|POST /console/sign-in` and the stylesheet. Every other route sits behind
API Gateway's Cognito authorizer, which verified the session cookie (the ID token) and passes
its claims; this handler turns them into an `Operator`, checks the role for the case's process
in the library (403 otherwise), checks the CSRF token and origin on every POST, calls one
domain function and renders the answer. A GET never changes state.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

from aios import console, operator
from aios.approvals import case_id_of
from aios.console import csrf
from aios.errors import (
    AiosError,
    AlreadyDecided,
    ApprovalNotFound,
    CapabilityNotAllowed,
    CaseNotFound,
    CaseNotWaiting,
    ChangesNotAllowed,
    CsrfRejected,
    Forbidden,
    HeldByOther,
    InvalidDecision,
    InvalidInput,
    InvalidParams,
    LedgerConflict,
    LinkExpired,
    LinkForbidden,
    RouteNotFound,
    SignInFailed,
)
from aios.ledger import bind_ledger
from aios.settings import load_settings
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "console_secret_arn", "console_client_id")
bind_ledger(settings.ledger_table)
app = APIGatewayRestResolver()

# The one place console errors become HTTP statuses.
HTTP_STATUS: dict[type[AiosError], int] = {
    SignInFailed: 401,
    CsrfRejected: 403,
    Forbidden: 403,
    LinkForbidden: 403,
    CaseNotFound: 404,
    ApprovalNotFound: 404,
    RouteNotFound: 404,
    HeldByOther: 409,
    CaseNotWaiting: 409,
    LedgerConflict: 409,
    AlreadyDecided: 409,
    ChangesNotAllowed: 409,
    LinkExpired: 410,
    InvalidInput: 400,
    InvalidParams: 400,
    CapabilityNotAllowed: 400,
    InvalidDecision: 400,
}
MAX_FORM_FIELDS = 200


def _base() -> str:
    """The console's URL path: the stage prefix (if the client used one) + /console."""
    event = app.current_event
    asked, path = event.request_context.path or event.path, event.path
    prefix = asked[: -len(path)] if path and asked.endswith(path) else ""
    return f"{prefix}/console"


def _html(status: int, doc: str) -> Response[str]:
    return Response(
        status_code=status, content_type=console.CONTENT_TYPE, body=doc, headers=console.HEADERS
    )


def _redirect(location: str, cookie: str | None = None) -> Response[str]:
    headers = {**console.HEADERS, "Location": location}
    if cookie is not None:
        headers["Set-Cookie"] = cookie
    return Response(status_code=303, content_type=console.CONTENT_TYPE, body="", headers=headers)


def _key() -> bytes:
    return console.csrf_key(settings.console_secret_arn)


def _session() -> console.Session:
    return console.session_from_claims(app.current_event.request_context.authorizer.claims)


def _operator() -> operator.Operator:
    return console.operator_of(_session())


def _form() -> dict[str, str]:
    fields = parse_qs(
        app.current_event.decoded_body or "", keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
    )
    return {k: v[-1] for k, v in fields.items()}


def _posted() -> tuple[operator.Operator, dict[str, str]]:
    """The signed-in operator and the form of a POST whose CSRF token and origin check out."""
    session = _session()
    form = _form()
    csrf.check_origin(app.current_event.headers)
    csrf.check_session_token(_key(), session.username, session.token_id, form.get(csrf.FIELD))
    return console.operator_of(session), form


def _csrf() -> str:
    session = _session()
    return csrf.session_token(_key(), session.username, session.token_id)


def _signed_in(title: str, body: str) -> Response[str]:
    doc = console.page(title, body, base=_base(), signed_in_as=_session().username, csrf=_csrf())
    return _html(200, doc)


def _error_page(exc: AiosError) -> Response[str]:
    status = next((s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls)), 500)
    if status >= 500:
        logger.exception("unmapped domain error")
        return _html(500, console.message_page("Error", "internal error", base=_base()))
    logger.info("console request refused", extra={"code": exc.code, "status": status})
    if status == 401:
        return _html(401, _sign_in_doc(message=exc.message))
    title = {403: "Forbidden", 404: "Not found", 409: "Conflict", 410: "Expired"}
    doc = console.message_page(
        title.get(status, "Cannot do that"), exc.message, base=_base(), links=((_base(), "Queues"),)
    )
    return _html(status, doc)


# Registered by a call: Powertools' decorator is untyped, and _not_found calls it too.
app.exception_handler(AiosError)(_error_page)


# -- public: sign-in and the stylesheet


def _sign_in_doc(message: str = "", username: str = "", next_path: str = "") -> str:
    token = csrf.sign_in_token(_key())
    return console.sign_in_page(
        _base(), token, message=message, username=username, next_path=next_path
    )


@app.get("/console/assets/console.css")
def stylesheet() -> Response[str]:
    return Response(
        status_code=200,
        content_type="text/css; charset=utf-8",
        body=console.STYLESHEET,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@app.get("/console/sign-in")
def sign_in_form() -> Response[str]:
    return _html(200, _sign_in_doc(next_path=app.current_event.get_query_string_value("next", "")))


@app.post("/console/sign-in")
def sign_in() -> Response[str]:
    form = _form()
    csrf.check_origin(app.current_event.headers)
    csrf.check_sign_in_token(_key(), form.get(csrf.FIELD))
    username, next_path = form.get("username", ""), form.get("next", "")
    try:
        if form.get("session"):
            result = console.set_new_password(
                settings.console_client_id, username, form["session"], form.get("new_password", "")
            )
        else:
            result = console.sign_in(settings.console_client_id, username, form.get("password", ""))
    except SignInFailed as exc:
        logger.info("sign-in refused", extra={"code": exc.code})
        return _html(401, _sign_in_doc(exc.message, username, next_path))
    if isinstance(result, console.NewPasswordRequired):
        doc = console.new_password_page(
            _base(), csrf.sign_in_token(_key()), username=username, session=result.session,
            next_path=next_path,
        )  # fmt: skip
        return _html(200, doc)
    metrics.add_metric(name="ConsoleSignIns", unit=MetricUnit.Count, value=1)
    return _redirect(console.safe_next(_base(), next_path), console.session_cookie(result))


# -- signed in


@app.post("/console/sign-out")
def sign_out() -> Response[str]:
    _posted()
    return _redirect(f"{_base()}/sign-in", console.cleared_cookie())


@app.get("/console")
def home() -> Response[str]:
    who = _operator()
    counts = {
        kind: len(console.visible(who, console.QueueQuery(kind=kind), operator.list_queue(kind)))
        if console.may_see(who, kind)
        else None
        for kind in console.QUEUES
    }
    return _signed_in("Queues", console.home_body(_base(), counts))


@app.get("/console/queues/<kind>")
def queue(kind: str) -> Response[str]:
    who = _operator()
    query = console.QueueQuery.from_query(kind, app.current_event.query_string_parameters or {})
    entries = operator.list_queue(
        query.kind, process=query.process, oldest_first=query.oldest_first
    )
    body = console.queue_body(_base(), query, console.visible(who, query, entries))
    return _signed_in(console.QUEUE_TITLES[query.kind], body)


@app.get("/console/cases/<case_id>")
def case(case_id: str) -> Response[str]:
    logger.append_keys(case_id=case_id)
    who = _operator()
    view = operator.case_page(case_id)
    console.require_viewer(who, view.process)
    done = app.current_event.get_query_string_value("done", "")
    return _signed_in(f"Case {case_id}", console.case_body(_base(), view, who, _csrf(), done))


@app.get("/console/cases/<case_id>/act")
def act_form(case_id: str) -> Response[str]:
    logger.append_keys(case_id=case_id)
    who = _operator()
    process = operator.case_page(case_id).process
    operator.require(who, "operator", process)
    chosen = app.current_event.get_query_string_value("capability", "")
    forms = operator.capability_forms(process)
    return _signed_in("Act by hand", console.act_body(_base(), case_id, forms, chosen, _csrf()))


def _moved(case_id: str, message: str) -> Response[str]:
    metrics.add_metric(name="ConsoleOperatorMoves", unit=MetricUnit.Count, value=1)
    return _redirect(f"{_base()}/cases/{quote(case_id)}?done={quote(message)}")


@app.post("/console/cases/<case_id>/take")
def take(case_id: str) -> Response[str]:
    who, _ = _posted()
    operator.take(case_id, who)
    return _moved(case_id, "taken")


@app.post("/console/cases/<case_id>/release")
def release(case_id: str) -> Response[str]:
    who, _ = _posted()
    operator.release(case_id, who)
    return _moved(case_id, "released")


@app.post("/console/cases/<case_id>/return")
def return_to_automation(case_id: str) -> Response[str]:
    who, form = _posted()
    operator.return_to_automation(case_id, who, form.get("note", ""))
    return _moved(case_id, "returned to automation")


@app.post("/console/cases/<case_id>/act")
def act(case_id: str) -> Response[str]:
    who, form = _posted()
    process = operator.case_page(case_id).process
    forms = {str(f["capability"]): f for f in operator.capability_forms(process)}
    actions = console.actions_from_form(forms, form)
    operator.act_by_hand(case_id, who, actions, form.get("note", ""))
    return _moved(case_id, "acted by hand")


@app.post("/console/cases/<case_id>/resolve")
def resolve(case_id: str) -> Response[str]:
    who, form = _posted()
    operator.resolve(case_id, who, form.get("outcome", ""), form.get("note", ""))
    return _moved(case_id, "resolved")


@app.post("/console/cases/<case_id>/cancel")
def cancel(case_id: str) -> Response[str]:
    who, form = _posted()
    operator.cancel(case_id, who, form.get("note", ""))
    return _moved(case_id, "cancelled")


@app.post("/console/approvals/<approval_id>")
def decide(approval_id: str) -> Response[str]:
    who, form = _posted()
    logger.append_keys(action_id=approval_id)
    decided = console.decide_approval(
        approval_id, who, form.get("decision", ""), form.get("comment", "")
    )
    metrics.add_dimension(name="process", value=decided.process)
    metrics.add_metric(name="ConsoleApprovalDecisions", unit=MetricUnit.Count, value=1)
    status = decided.status.lower().replace("_", " ")
    return _moved(case_id_of(approval_id), f"approval {status}")


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    return _error_page(RouteNotFound(f"no page {app.current_event.path}"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
