"""Offline rules of `customer-ops`: the local stand-in for a model (see aios.providers.offline).

Keyword rules, not a model. They are deliberately as credulous as a careless model: a refund
or credit takes the amount and currency the customer wrote when there is one ("refund 500
USD"), and only the repair request (the decision plane's refusal, naming the billing rule the
plan broke) brings it back within the order's paid amount, the order's currency or the monthly
credit cap. That is how `aios eval` counts rule violations blocked.
"""

from __future__ import annotations

import re
from typing import Any

_ESCALATE = re.compile(
    r"\b(lawyers?|legal action|sue|chargeback|fraud\w*|hacked|stolen|data breach|gdpr"
    r"|is wrong|bills me|overcharged|dispute)\b",
    re.I,
)
_REFUND = re.compile(
    r"\b(refund\w*|money back|charged twice|double charge|never arrived|damaged|reimburse)\b", re.I
)
_CREDIT = re.compile(r"\b(outage|downtime|(?:been|was|went) down|compensat\w*|credit)\b", re.I)
_PLAN = re.compile(
    r"\b(upgrade|downgrade|switch|move|change)\b[^.]*?\bto (?:the )?(basic|pro|business)\b", re.I
)
_PAYMENT = re.compile(r"\b(card|declined|renewal)\b", re.I)
_BUG = re.compile(r"\b(error|bug|crash\w*|broken|fails?|failing)\b", re.I)
_URGENT = re.compile(r"\b(urgent|asap|immediately|today)\b", re.I)
_MONEY = re.compile(
    r"(?:(?P<sym>[€$£])\s?(?P<a>\d+(?:\.\d{1,2})?))|(?:(?P<b>\d+(?:\.\d{1,2})?)\s?(?P<cur>EUR|USD|GBP|euros?|dollars?|pounds?)\b)",
    re.I,
)
_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "euro": "EUR", "dollar": "USD", "pound": "GBP"}
CREDIT_DEFAULT = 10.0
CREDIT_CAP = 50.0


def _text(data: dict[str, Any]) -> str:
    return f"{data.get('subject', '')} {data.get('body', '')}"


def _intent(data: dict[str, Any]) -> str:
    text = _text(data)
    if _ESCALATE.search(text):
        return "escalate"
    if _REFUND.search(text) and data.get("order"):
        return "refund"
    if _PLAN.search(text):
        return "plan_change"
    if _CREDIT.search(text):
        return "credit"
    if _PAYMENT.search(text):
        return "question"
    if _BUG.search(text):
        return "bug"
    return "question"


def classify(data: dict[str, Any]) -> dict[str, Any]:
    intent = _intent(data)
    risk = {"refund": "medium", "credit": "medium", "plan_change": "high", "escalate": "high"}
    return {
        "intent": intent,
        "urgency": "high" if _URGENT.search(_text(data)) or intent == "escalate" else "normal",
        "language": "en",
        "risk": risk.get(intent, "low"),
        "confidence": 0.35 if intent == "escalate" else 0.9,
    }


def _asked(data: dict[str, Any]) -> tuple[float, str] | None:
    """The amount and currency the customer wrote, if any."""
    match = _MONEY.search(_text(data))
    if match is None:
        return None
    amount = float(match.group("a") or match.group("b"))
    unit = (match.group("sym") or match.group("cur") or "").lower().rstrip("s")
    currency = _SYMBOLS.get(unit, unit.upper())
    return amount, currency


def _refund(data: dict[str, Any], repair: bool) -> dict[str, Any]:
    order = data["order"]
    amount, currency = _asked(data) or (float(order["paid_amount"]), order["currency"])
    if repair:  # the refusal named the rule: within the paid amount, in the order's currency
        amount, currency = min(amount, float(order["paid_amount"])), order["currency"]
    return {
        "capability": "billing.refund",
        "params": {
            "order_id": order["order_id"],
            "amount": amount,
            "currency": currency,
            "reason": data["subject"][:500],
        },
        "reason": f"The customer asks for their money back for {order['order_id']}.",
    }


def _credit(data: dict[str, Any], repair: bool) -> dict[str, Any]:
    asked = _asked(data)
    amount = asked[0] if asked else CREDIT_DEFAULT
    if repair:
        amount = min(amount, CREDIT_CAP)
    return {
        "capability": "billing.credit",
        "params": {
            "customer_id": data["customer_id"],
            "amount": amount,
            "currency": data["account"]["currency"],
            "reason": data["subject"][:500],
        },
        "reason": "A goodwill credit for the service failure the customer reports.",
    }


def _plan_change(data: dict[str, Any]) -> dict[str, Any]:
    match = _PLAN.search(_text(data))
    plan = match.group(2).lower() if match else data["account"]["plan"]
    return {
        "capability": "billing.change_plan",
        "params": {"customer_id": data["customer_id"], "plan": plan},
        "reason": f"The customer asks to move to the {plan} plan.",
    }


REPLIES = {
    "refund": "Thank you for telling us. We have started the refund of your order; billing "
    "will confirm it by email.",
    "credit": "Sorry for the disruption. We have added a credit to your account.",
    "plan_change": "We have asked for your plan change; billing will confirm it by email.",
    "bug": "Thank you for the report. Our engineers have it and we will update this thread.",
    "question": "Thanks for asking! You will find the steps in our help centre; reply here if "
    "anything is unclear.",
}


def plan(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    intent = (context.get("classification") or classify(data))["intent"]
    repair = bool(context.get("repair"))
    actions: list[dict[str, Any]] = [
        {
            "capability": "crm.add_note",
            "params": {
                "subject": "ticket",
                "subject_id": data["ticket_id"],
                "text": f"customer-ops: {intent}. {data['subject'][:300]}",
            },
            "reason": "Keep the decision on the ticket in the CRM.",
        }
    ]
    if intent == "refund":
        actions.append(_refund(data, repair))
    elif intent == "credit":
        actions.append(_credit(data, repair))
    elif intent == "plan_change":
        actions.append(_plan_change(data))
    if data.get("thread_id") and intent in REPLIES:
        actions.append(
            {
                "capability": "forum.reply",
                "params": {"thread_id": data["thread_id"], "body": REPLIES[intent]},
                "reason": "Answer the customer where they asked.",
            }
        )
    return {"summary": f"{intent}: {len(actions)} action(s)", "actions": actions}
