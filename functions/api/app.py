"""api: the REST front door. Submits cases and serves the ledger's read model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aios import aws, cases, openapi
from aios.errors import (
    AiosError,
    CaseNotFound,
    IdempotencyConflict,
    InternalError,
    InvalidInput,
    ProcessNotFound,
    RouteNotFound,
    TenantUnknown,
)
from aios.kpis import kpi_report, parse_window
from aios.ledger import bind_ledger
from aios.memory.context import check_in_case_input
from aios.settings import load_settings
from aios.specs import current_specs
from aios.tenants import Caller, tenant_of
from aios.tracing import new_tracer
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = new_tracer()
metrics = Metrics()
settings = load_settings().require("ledger_table", "state_machine_arn")
bind_ledger(settings.ledger_table)
app = APIGatewayRestResolver(enable_validation=True)

# The one place domain errors become HTTP statuses.
HTTP_STATUS: dict[type[AiosError], int] = {
    InvalidInput: 400,
    ProcessNotFound: 404,
    CaseNotFound: 404,
    RouteNotFound: 404,
    IdempotencyConflict: 409,
    TenantUnknown: 403,
}


def _error(status: int, exc: AiosError) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": exc.to_dict()}),
    )


def _domain_error(exc: AiosError) -> Response[str]:
    status = next((s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls)), 500)
    if status >= 500:
        logger.exception("unmapped domain error")
        return _error(500, InternalError("internal error"))
    return _error(status, exc)


# Registered by a call, not as a decorator: Powertools' decorator is untyped, and _not_found
# calls _domain_error too.
app.exception_handler(AiosError)(_domain_error)


def _request_invalid(exc: RequestValidationError) -> Response[str]:
    first = (exc.errors() or [{}])[0]
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return _error(400, InvalidInput(f"{field or 'request'}: {first.get('msg', 'invalid')}"))


app.exception_handler(RequestValidationError)(_request_invalid)

TENANT: dict[int, OpenAPIResponse] = {403: openapi.error_response("the caller has no tenant")}
NOT_FOUND: dict[int, OpenAPIResponse] = {
    404: openapi.error_response("no such case (or another tenant's)"),
    **TENANT,
}


def _start_execution(case_id: str, execution_input: dict[str, Any]) -> None:
    sfn = aws.client("stepfunctions")
    try:
        sfn.start_execution(
            stateMachineArn=settings.state_machine_arn,
            name=case_id,
            # A large input travels as a claim check (S3): the state stays far below 256 KiB.
            input=json.dumps(check_in_case_input(execution_input, aws.client("s3"))),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info("execution already started", extra={"case_id": case_id})


def _tenant() -> str:
    """The caller's tenant (its IAM principal tag, or its API key's usage plan); 403 if none."""
    identity = app.current_event.request_context.identity
    caller = Caller(principal_arn=identity.user_arn, api_key_id=identity.api_key_id)
    tenant = tenant_of(caller, api_keys=settings.api_key_tenants)
    logger.append_keys(tenant=tenant)
    return tenant


@app.get(
    "/processes",
    responses={200: openapi.json_response("the processes"), **TENANT},
)
def list_processes() -> dict[str, Any]:
    """The processes this deployment runs, with their input schema and an example input."""
    _tenant()
    return {"processes": [spec.summary() for spec in current_specs().values()]}


@app.post(
    "/processes/<process>/cases",
    responses={
        202: openapi.json_response("the case, accepted"),
        400: openapi.error_response("the body is not JSON or violates the input schema"),
        404: openapi.error_response("no such process"),
        409: openapi.error_response("the Idempotency-Key was used with another body"),
        **TENANT,
    },
    openapi_extensions=openapi.SUBMIT_REQUEST,
)
def submit_case(process: str) -> Response[str]:
    """Submit a case; the optional Idempotency-Key header makes a retry return the same case."""
    result = cases.submit_case(
        process,
        app.current_event.body,
        tenant=_tenant(),
        idempotency_key=app.current_event.headers.get("Idempotency-Key")
        or app.current_event.headers.get("idempotency-key"),
        start_execution=_start_execution,
    )
    logger.append_keys(case_id=result["case_id"], process=process)
    logger.info("case submitted")
    metrics.add_dimension(name="process", value=process)
    metrics.add_metric(name="CasesSubmitted", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=json.dumps(result)
    )


CASE_DESCRIPTION = (
    "A case's status, plan, actions and timestamps, its model usage, and its priced cost: "
    "`cost` has the case's dollars in total (`usd`, `infrastructure_usd`, `model_usd`), per "
    "1,000 cases like it, item by item (`items`: state transitions, Lambda requests and "
    "GB-seconds, DynamoDB units, SQS and KMS requests, API Gateway requests, X-Ray traces, log "
    "bytes, EventBridge events, and the model), the `path` it took (auto, approved, "
    "handed_off), the `region` and `prices_as_of` of the price table, and the `basis` of the "
    "estimate."
)


@app.get(
    "/cases/<case_id>",
    description=CASE_DESCRIPTION,
    responses={200: openapi.json_response("the case"), **NOT_FOUND},
)
def get_case(case_id: str) -> dict[str, Any]:
    """A case's status, plan, actions, usage and priced cost."""
    logger.append_keys(case_id=case_id)
    return cases.case_view(case_id, tenant=_tenant())


@app.get(
    "/cases/<case_id>/audit",
    responses={
        200: openapi.json_response("the audit events and the chain"),
        **NOT_FOUND,
    },
)
def get_audit(case_id: str) -> dict[str, Any]:
    """The case's audit events in order and the verdict of the chain verifier."""
    logger.append_keys(case_id=case_id)
    return cases.audit_view(case_id, tenant=_tenant())


@app.get(
    "/kpis",
    responses={
        200: openapi.json_response("the KPIs over the window"),
        400: openapi.error_response("the window is not valid"),
        **TENANT,
    },
)
def get_kpis() -> dict[str, Any]:
    """Decision-quality KPIs per process and per model and prompt version over a window
    (`process`, `since`, `until` query parameters; default: every process, the last 24 h)."""
    query = app.current_event.get_query_string_value
    since, until = parse_window(query("since"), query("until"), datetime.now(UTC))
    return kpi_report(query("process"), since, until).model_dump(mode="json")


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    """This API's routes (generated), and the approval and console routes other functions serve."""
    generated = json.loads(app.get_openapi_json_schema(title="AIOS Kit API", version="1"))
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(
            openapi.complete(generated, {**openapi.APPROVAL_PATHS, **openapi.console_paths()})
        ),
    )


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    return _domain_error(RouteNotFound(f"no route {app.current_event.path}"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
