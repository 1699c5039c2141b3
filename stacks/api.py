"""The REST API: explicit routes, all proxied to the api function."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import AiosConfig
from stacks.nag import acknowledge

STAGE = "v1"
# (method, path) of every route; the api function dispatches on the same table.
ROUTES = (
    ("GET", "/processes"),
    ("POST", "/processes/{process}/cases"),
    ("GET", "/cases/{case_id}"),
    ("GET", "/cases/{case_id}/audit"),
    ("GET", "/kpis"),
    ("GET", "/openapi.json"),
)


class Api(Construct):
    """API Gateway REST API with IAM (SigV4) auth, or API keys + a usage plan when configured.

    The stage writes JSON access logs, is throttled from config and traced with X-Ray. Path
    parameters and the JSON-object shape of a case request are validated by API Gateway; the
    body's fields by the api function, since the input schema depends on the process.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        handler: lambda_.IFunction,
        access_log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, id)
        use_iam = config.api_auth == "iam"
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="AIOS Kit API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The account-level role that lets API Gateway write execution logs (logging_level).
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
            ),
            default_method_options=apigw.MethodOptions(
                authorization_type=(
                    apigw.AuthorizationType.IAM if use_iam else apigw.AuthorizationType.NONE
                ),
                api_key_required=not use_iam,
            ),
        )
        acknowledge(
            self.rest_api,
            id=(
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs]"
            ),
            reason="AWS's policy for API Gateway's account-level log role; no narrower one exists",
        )
        acknowledge(
            self.rest_api,
            id="AwsSolutions-APIG3",
            reason="WAF is an account-level choice (own cost); auth and throttling guard the API",
        )
        self.validator = apigw.RequestValidator(
            self,
            "ParameterValidator",
            rest_api=self.rest_api,
            validate_request_parameters=True,
            validate_request_body=True,
        )
        # Each process validates its own input; the gateway only insists on a JSON object.
        case_request = self.rest_api.add_model(
            "CaseRequest",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                title="CaseRequest",
                type=apigw.JsonSchemaType.OBJECT,
            ),
        )
        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        self.methods: list[apigw.Method] = []
        for verb, path in ROUTES:
            resource = self.rest_api.root.resource_for_path(path)
            params = {
                f"method.request.path.{part[1:-1]}": True
                for part in path.split("/")
                if part.startswith("{")
            }
            method = resource.add_method(
                verb,
                integration,
                request_validator=self.validator,
                request_parameters=params or None,
                request_models={"application/json": case_request} if verb == "POST" else None,
            )
            self.methods.append(method)
            if use_iam:
                acknowledge(
                    method,
                    id="AwsSolutions-COG4",
                    reason="callers authenticate with IAM (SigV4), not a Cognito user pool",
                )
            else:
                acknowledge(
                    method,
                    id="AwsSolutions-APIG4",
                    reason="api_auth=api_key: callers present an API key bound to a usage plan",
                )
                acknowledge(
                    method,
                    id="AwsSolutions-COG4",
                    reason="api_auth=api_key: callers present an API key bound to a usage plan",
                )
        self.tenant_keys: dict[str, apigw.IApiKey] = {}
        if not use_iam:
            self._tenant_usage_plans(config)

    def _tenant_usage_plans(self, config: AiosConfig) -> None:
        """One API key on one usage plan per tenant: the key names the tenant (the api
        function gets the mapping), and each plan throttles and meters its tenant alone.

        The keys are not attached to the stage themselves (their usage plans are), so the
        api function may name them in its environment without a dependency cycle.
        """
        for index, (tenant, plan) in enumerate(sorted(config.api_key_tenants.items())):
            suffix = "" if index == 0 else str(index)
            key = apigw.ApiKey(self, f"ApiKey{suffix}", description=f"AIOS API key of {tenant}")
            usage = self.rest_api.add_usage_plan(
                f"UsagePlan{suffix}",
                description=f"AIOS tenant {tenant}",
                throttle=apigw.ThrottleSettings(
                    rate_limit=plan.rate_limit or config.api_throttle_rate_limit,
                    burst_limit=plan.burst_limit or config.api_throttle_burst_limit,
                ),
                quota=apigw.QuotaSettings(limit=plan.quota_per_day, period=apigw.Period.DAY)
                if plan.quota_per_day
                else None,
            )
            usage.add_api_stage(stage=self.rest_api.deployment_stage)
            usage.add_api_key(key)
            self.tenant_keys[tenant] = key

    def add_public_routes(
        self, handler: lambda_.IFunction, routes: tuple[tuple[str, str], ...], *, reason: str
    ) -> None:
        """Routes without IAM or API key: `handler` authenticates each request itself."""
        for method in self._add_routes(handler, routes, apigw.AuthorizationType.NONE, None):
            for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(method, id=finding, reason=reason)

    def add_cognito_routes(
        self,
        handler: lambda_.IFunction,
        routes: tuple[tuple[str, str], ...],
        authorizer: apigw.IAuthorizer,
    ) -> None:
        """Routes behind a Cognito user pool authorizer: the claims reach `handler`."""
        self._add_routes(handler, routes, apigw.AuthorizationType.COGNITO, authorizer)

    def _add_routes(
        self,
        handler: lambda_.IFunction,
        routes: tuple[tuple[str, str], ...],
        authorization: apigw.AuthorizationType,
        authorizer: apigw.IAuthorizer | None,
    ) -> list[apigw.Method]:
        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        added = []
        for verb, path in routes:
            params = {
                f"method.request.path.{part[1:-1]}": True
                for part in path.split("/")
                if part.startswith("{")
            }
            method = self.rest_api.root.resource_for_path(path).add_method(
                verb,
                integration,
                authorization_type=authorization,
                authorizer=authorizer,
                api_key_required=False,
                request_validator=self.validator,
                request_parameters=params or None,
            )
            added.append(method)
        self.methods.extend(added)
        return added

    @property
    def url(self) -> str:
        return self.rest_api.url
