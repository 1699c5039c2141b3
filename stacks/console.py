"""The operator console: a Cognito user pool (groups = roles), its app client, the console
function with its own role, and its routes under ``/console`` behind a Cognito authorizer.

The console is server-rendered HTML from one Lambda function (no build step). People sign in
on the console's own form (``USER_PASSWORD_AUTH`` through the console function; no hosted UI);
the ID token is kept in an HttpOnly, Secure, SameSite=Strict cookie without a name, so the
browser's ``Cookie`` header is the token itself and API Gateway's Cognito authorizer reads it
from there (identity source ``method.request.header.Cookie``).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.api import Api
from stacks.config import AiosConfig
from stacks.functions import AiosFunction
from stacks.handoffs import Handoffs
from stacks.ledger import Ledger
from stacks.nag import acknowledge

# Cognito groups are the console's roles; a role may be narrowed to one process by a group
# named `<role>:<process>` (created by an admin when needed).
ROLES = ("operator", "approver", "admin")
# Public: the sign-in form and the stylesheet. Everything else needs a signed-in user.
PUBLIC_ROUTES = (
    ("GET", "/console/sign-in"),
    ("POST", "/console/sign-in"),
    ("GET", "/console/assets/console.css"),
)
SIGNED_IN_ROUTES = (
    ("GET", "/console"),
    ("GET", "/console/queues/{kind}"),
    ("GET", "/console/cases/{case_id}"),
    ("GET", "/console/cases/{case_id}/act"),
    ("POST", "/console/cases/{case_id}/take"),
    ("POST", "/console/cases/{case_id}/release"),
    ("POST", "/console/cases/{case_id}/return"),
    ("POST", "/console/cases/{case_id}/act"),
    ("POST", "/console/cases/{case_id}/resolve"),
    ("POST", "/console/cases/{case_id}/cancel"),
    ("POST", "/console/approvals/{approval_id}"),
    ("POST", "/console/sign-out"),
)
# The session cookie is the ID token; people sign in again when it expires.
ID_TOKEN_VALIDITY = Duration.minutes(60)
# What API Gateway answers when the authorizer refuses (no, or no valid, token): a page that
# offers to continue (a link followed from another site, e.g. a mail client, arrives without the
# SameSite=Strict cookie; the same link clicked here carries it) or to sign in and come back.
UNAUTHORIZED_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in - AIOS console</title>"
    "</head><body><h1>Sign in to continue</h1><p id=message>The console needs a signed-in user."
    '</p><p><a id=continue href="$context.path">Continue</a> if you are signed in already, or '
    '<a id=sign-in href="/$context.stage/console/sign-in?next=$context.path">sign in</a>.</p>'
    "</body></html>"
)


class Console(Construct):
    """User pool, groups, app client, console function and its least-privilege role."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        layers: list[lambda_.ILayerVersion],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,  # an admin creates people (aws cognito-idp admin-create-user)
            sign_in_aliases=cognito.SignInAliases(username=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=cognito.Mfa.OFF,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.user_pool,
            id="AwsSolutions-COG2",
            reason="the console's own sign-in form does not implement MFA challenges yet",
        )
        acknowledge(
            self.user_pool,
            id="AwsSolutions-COG8",
            reason="threat protection needs the Plus plan (billed per monthly active user); "
            "no self sign-up and a strong password policy instead",
        )
        self.groups = [
            cognito.CfnUserPoolGroup(
                self,
                f"{role.capitalize()}Group",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=role,
                description=f"AIOS console role {role}",
            )
            for role in ROLES
        ]
        self.client = self.user_pool.add_client(
            "ConsoleClient",
            auth_flows=cognito.AuthFlow(user_password=True),
            generate_secret=False,
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            # The ID token carries the person's address (the console names approvers by it).
            read_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, email_verified=True
            ),
            write_attributes=cognito.ClientAttributes(),
            id_token_validity=ID_TOKEN_VALIDITY,
            access_token_validity=ID_TOKEN_VALIDITY,
            refresh_token_validity=Duration.hours(8),
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "Authorizer",
            cognito_user_pools=[self.user_pool],
            identity_source=apigw.IdentitySource.header("Cookie"),
            # No cache: an expired or signed-out token is refused at once.
            results_cache_ttl=Duration.seconds(0),
        )
        # The HMAC key of the console's CSRF tokens.
        self.secret = secretsmanager.Secret(
            self,
            "ConsoleSecret",
            description="AIOS console: HMAC key of the CSRF tokens",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 - an empty JSON object, no secret
                generate_string_key="csrf_key",
                exclude_punctuation=True,
                password_length=48,
            ),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.secret,
            id="AwsSolutions-SMG4",
            reason="rotating csrf_key only voids open forms; rotate by hand (put-secret-value)",
        )
        self.function = AiosFunction(
            self,
            "Function",
            name="console",
            config=config,
            layers=layers,
            timeout=Duration.seconds(15),
            environment={
                "AIOS_LEDGER_TABLE": ledger.table.table_name,
                "AIOS_CONSOLE_SECRET_ARN": self.secret.secret_arn,
                "AIOS_CONSOLE_USER_POOL_ID": self.user_pool.user_pool_id,
                "AIOS_CONSOLE_CLIENT_ID": self.client.user_pool_client_id,
            },
        )
        self.secret.grant_read(self.function.role)

    def attach(self, api: Api, handoffs: Handoffs) -> None:
        """Serve the console routes on ``api``; record operator moves and approval decisions
        (ledger reads and compare-and-set writes, the queues index, answers to the case
        machine's waiting tasks) with exactly what the handoffs construct grants for them."""
        handoffs.grant_operator_moves(self.function.role)
        # Only the Cognito authorizer answers UNAUTHORIZED on this API (IAM and API keys: 403).
        api.rest_api.add_gateway_response(
            "ConsoleUnauthorized",
            type=apigw.ResponseType.UNAUTHORIZED,
            status_code="401",
            response_headers={
                "Content-Type": "'text/html; charset=utf-8'",
                "Cache-Control": "'no-store'",
                "Content-Security-Policy": "'sandbox'",  # no script can run on this page
                "X-Frame-Options": "'DENY'",
                "X-Content-Type-Options": "'nosniff'",
            },
            templates={"application/json": UNAUTHORIZED_PAGE},
        )
        api.add_public_routes(
            self.function.function,
            PUBLIC_ROUTES,
            reason="the console's sign-in form and stylesheet: nobody is signed in yet",
        )
        api.add_cognito_routes(self.function.function, SIGNED_IN_ROUTES, self.authorizer)
