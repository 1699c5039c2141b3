"""The billing connector: `billing.refund`, `billing.credit`, `billing.change_plan`.

The billing system's API (any system with this shape will do):

    POST {base_url}/orders/{order_id}/refunds        {"amount", "currency", "reason"}
    GET  {base_url}/orders/{order_id}                -> {"order_id", "paid_amount", "currency", "refunds": [...]}
    POST {base_url}/customers/{customer_id}/credits  {"amount", "currency", "reason"}
    GET  {base_url}/customers/{customer_id}          -> {"customer_id", "plan", "credits": [...]}
    PUT  {base_url}/customers/{customer_id}/plan     {"plan"}

with `Authorization: Bearer <api_key>` and `Idempotency-Key` = the action id on every write.
Each capability has its own secret and role (the stack creates them): the key in it should be a
restricted key that can do that one thing (refund, credit or change a plan), so that the
refund capability's key cannot grant credits. The billing rules themselves (refund within the
paid amount, one per order, matching currency, credits capped per month) are the process's
constraints, enforced by the execution plane before the call (see processes/customer-ops).
"""

from __future__ import annotations

from typing import Any, Literal

from aios.capabilities import ActionContext, Capability, Risk, register
from pydantic import BaseModel, ConfigDict, Field

from capabilities._connector import ConnectorConfig, call, segment

Currency = Literal["EUR", "USD", "GBP"]
Plan = Literal["basic", "pro", "business"]


class BillingConfig(ConnectorConfig):
    base_url: str = "https://billing.example.com/api"


class Refund(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=r"^O-[0-9]{1,12}$")
    amount: float = Field(gt=0, le=100000)
    currency: Currency
    reason: str = Field(min_length=1, max_length=500)


class Credit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=r"^CU-[0-9]{1,12}$")
    amount: float = Field(gt=0, le=10000)
    currency: Currency
    reason: str = Field(min_length=1, max_length=500)


class PlanChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=r"^CU-[0-9]{1,12}$")
    plan: Plan


def refund(params: Refund, ctx: ActionContext) -> dict[str, Any]:
    """Refund the order once per action id."""
    answer = call(
        ctx,
        BillingConfig,
        "billing",
        "POST",
        f"/orders/{segment(params.order_id)}/refunds",
        params.model_dump(mode="json", exclude={"order_id"}),
    )
    return {"order_id": params.order_id, "refund_id": answer.get("refund_id"), **_money(params)}


def read_order(params: Refund, ctx: ActionContext) -> dict[str, Any]:
    return call(ctx, BillingConfig, "billing", "GET", f"/orders/{segment(params.order_id)}")


def credit(params: Credit, ctx: ActionContext) -> dict[str, Any]:
    """Grant the customer a credit once per action id."""
    answer = call(
        ctx,
        BillingConfig,
        "billing",
        "POST",
        f"/customers/{segment(params.customer_id)}/credits",
        params.model_dump(mode="json", exclude={"customer_id"}),
    )
    return {
        "customer_id": params.customer_id,
        "credit_id": answer.get("credit_id"),
        **_money(params),
    }


def read_customer(params: Credit | PlanChange, ctx: ActionContext) -> dict[str, Any]:
    return call(ctx, BillingConfig, "billing", "GET", f"/customers/{segment(params.customer_id)}")


def change_plan(params: PlanChange, ctx: ActionContext) -> dict[str, Any]:
    """Move the customer to another plan, keeping the previous one for the compensation."""
    before = read_customer(params, ctx).get("plan")
    call(
        ctx,
        BillingConfig,
        "billing",
        "PUT",
        f"/customers/{segment(params.customer_id)}/plan",
        {"plan": params.plan},
    )
    return {"customer_id": params.customer_id, "plan": params.plan, "previous": before}


def restore_plan(params: PlanChange, ctx: ActionContext, applied: dict[str, Any]) -> dict[str, Any]:
    previous = applied.get("previous")
    if not previous:
        return {"customer_id": params.customer_id, "restored": None}
    call(
        ctx,
        BillingConfig,
        "billing",
        "PUT",
        f"/customers/{segment(params.customer_id)}/plan",
        {"plan": previous},
        key=f"{ctx.action_id}.undo",
    )
    return {"customer_id": params.customer_id, "restored": previous}


def _money(params: Refund | Credit) -> dict[str, Any]:
    return {"amount": params.amount, "currency": params.currency}


register(
    Capability(
        name="billing.refund",
        params_model=Refund,
        risk=Risk.MEDIUM,
        execute=refund,
        read_state=read_order,
        description="Refund (part of) an order in the billing system; money out, not undoable.",
        secrets=("api_key",),
        config_model=BillingConfig,
    )
)
register(
    Capability(
        name="billing.credit",
        params_model=Credit,
        risk=Risk.MEDIUM,
        execute=credit,
        read_state=read_customer,
        description="Grant a customer an account credit in the billing system.",
        secrets=("api_key",),
        config_model=BillingConfig,
    )
)
register(
    Capability(
        name="billing.change_plan",
        params_model=PlanChange,
        risk=Risk.HIGH,
        execute=change_plan,
        compensate=restore_plan,
        read_state=read_customer,
        description="Move a customer to another plan; undone by restoring the previous plan.",
        secrets=("api_key",),
        config_model=BillingConfig,
    )
)
