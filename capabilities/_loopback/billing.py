"""A billing system on loopback for `billing.refund`, `billing.credit`, `billing.change_plan`.

Orders and customers with their refunds, credits and plan; it refuses what a payment provider
refuses (an unknown order or customer, a refund above what is left of the order, another
currency) and nothing more: one refund per order and the monthly credit cap are the process's
rules, which the kit's execution plane enforces before a call gets here.
"""

from __future__ import annotations

import re
from typing import Any

from local.services import Answer, LoopbackService

SEED_ORDERS = {  # the examples' orders
    "O-2001": {"customer_id": "CU-1001", "paid_amount": 120.0, "currency": "EUR"},
    "O-2002": {"customer_id": "CU-1002", "paid_amount": 40.0, "currency": "USD"},
}
SEED_CUSTOMERS = {
    "CU-1001": {"plan": "pro", "currency": "EUR"},
    "CU-1002": {"plan": "basic", "currency": "USD"},
}
ORDER = re.compile(r"^/orders/(O-[0-9]+)(/refunds)?$")
CUSTOMER = re.compile(r"^/customers/(CU-[0-9]+)(/credits|/plan)?$")


class Billing(LoopbackService):
    name = "billing"
    mounts = ("billing.refund", "billing.credit", "billing.change_plan")

    def reset(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        for order_id, order in SEED_ORDERS.items():
            self.seed_order(order_id, **order)
        for customer_id, customer in SEED_CUSTOMERS.items():
            self.seed_customer(customer_id, **customer)

    def seed_order(
        self, order_id: str, *, customer_id: str, paid_amount: float, currency: str
    ) -> None:
        with self.lock:
            self.orders[order_id] = {
                "order_id": order_id, "customer_id": customer_id,
                "paid_amount": paid_amount, "currency": currency, "refunds": [],
            }  # fmt: skip
            self.customers.setdefault(
                customer_id,
                {"customer_id": customer_id, "plan": "basic", "currency": currency, "credits": []},
            )

    def seed_customer(self, customer_id: str, *, plan: str, currency: str) -> None:
        with self.lock:
            self.customers[customer_id] = {
                "customer_id": customer_id, "plan": plan, "currency": currency, "credits": [],
            }  # fmt: skip

    def route(self, method: str, path: str, body: Any) -> Answer:
        if match := ORDER.match(path):
            return self._order(method, match.group(1), match.group(2), body)
        if match := CUSTOMER.match(path):
            return self._customer(method, match.group(1), match.group(2), body)
        return Answer(404, {"error": f"no such resource {path}"})

    def _order(self, method: str, order_id: str, sub: str | None, body: Any) -> Answer:
        order = self.orders.get(order_id)
        if order is None:
            return Answer(404, {"error": f"no order {order_id}"})
        if method == "GET" and sub is None:
            return Answer(200, dict(order))
        if method != "POST" or sub != "/refunds":
            return Answer(405, {"error": "GET an order or POST its refunds"})
        amount, currency = float(body["amount"]), str(body["currency"])
        left = order["paid_amount"] - sum(r["amount"] for r in order["refunds"])
        if currency != order["currency"]:
            return Answer(400, {"error": f"the order was paid in {order['currency']}"})
        if amount > left:
            return Answer(400, {"error": f"only {left:g} {currency} of the order is refundable"})
        refund = {"refund_id": f"re_{len(order['refunds']) + 1}_{order_id}", "amount": amount,
                  "currency": currency, "reason": str(body.get("reason", ""))}  # fmt: skip
        order["refunds"].append(refund)
        return Answer(200, dict(refund))

    def _customer(self, method: str, customer_id: str, sub: str | None, body: Any) -> Answer:
        customer = self.customers.get(customer_id)
        if customer is None:
            return Answer(404, {"error": f"no customer {customer_id}"})
        if method == "GET" and sub is None:
            return Answer(200, dict(customer))
        if method == "POST" and sub == "/credits":
            if body["currency"] != customer["currency"]:
                return Answer(400, {"error": f"the account is in {customer['currency']}"})
            credit = {"credit_id": f"cr_{len(customer['credits']) + 1}_{customer_id}",
                      "amount": float(body["amount"]), "currency": body["currency"]}  # fmt: skip
            customer["credits"].append(credit)
            return Answer(200, dict(credit))
        if method == "PUT" and sub == "/plan":
            previous, customer["plan"] = customer["plan"], str(body["plan"])
            return Answer(200, {"plan": customer["plan"], "previous": previous})
        return Answer(405, {"error": "GET a customer, POST credits or PUT the plan"})


SERVICE = Billing()
