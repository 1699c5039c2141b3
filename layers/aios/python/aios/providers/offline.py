"""A deterministic, rule-based stand-in for a model, for the local emulation and tests.

It is not a model: it follows keyword rules per process. It exists so that a case runs
offline end to end, and it answers in JSON text so that its output goes through the same
parsing and validation as a real model's. A process without rules gets an empty plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aios.providers import ModelRequest, ModelResponse

MODEL_ID = "aios-offline-rules-v1"

_BILLING = re.compile(r"\b(charge[ds]?|refund|invoice|billing|payment|card)\b", re.I)
_TECHNICAL = re.compile(r"\b(error|bug|crash|broken|down|fails?)\b", re.I)
_URGENT = re.compile(r"\b(urgent|asap|immediately|outage|down)\b", re.I)


def _classify_ticket(data: dict[str, Any]) -> dict[str, Any]:
    text = f"{data.get('subject', '')} {data.get('body', '')}"
    intent = (
        "billing"
        if _BILLING.search(text)
        else "technical"
        if _TECHNICAL.search(text)
        else "general"
    )
    urgency = "high" if _URGENT.search(text) or data.get("priority") == "high" else "normal"
    return {
        "intent": intent,
        "urgency": urgency,
        "language": "en",
        "risk": "medium" if intent == "billing" else "low",
        "confidence": 0.9 if intent != "general" else 0.6,
    }


def _plan_ticket(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    triage = context.get("classification") or _classify_ticket(data)
    ticket = data["ticket_id"]
    return {
        "summary": f"{triage['intent']} ticket, {triage['urgency']} urgency: record and post triage",
        "actions": [
            {
                "capability": "ledger.update_entity",
                "params": {
                    "set": {
                        "status": "triaged",
                        "category": triage["intent"],
                        "urgency": triage["urgency"],
                    }
                },
                "reason": "Keep the ticket's canonical state in step with the triage.",
            },
            {
                "capability": "http.post",
                "params": {
                    "target": "helpdesk",
                    "path": f"/tickets/{ticket}/triage",
                    "body": {
                        "ticket_id": ticket,
                        "category": triage["intent"],
                        "urgency": triage["urgency"],
                        "summary": data["subject"][:200],
                    },
                },
                "reason": f"The ticket reads as {triage['intent']} with {triage['urgency']} urgency.",
            },
        ],
    }


def _classify_refund(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "intent": "refund",
        "urgency": "normal",
        "language": "en",
        "risk": "medium",
        "confidence": 0.8,
    }


_AMOUNT = re.compile(r"\bamount\s*(?:to|=|:)?\s*([0-9]+(?:\.[0-9]{1,2})?)", re.I)


def _plan_refund(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Refund the amount asked for, or the amount a reviewer's comment names ("amount 40")."""
    amount = data["amount"]
    asked = _AMOUNT.search(str(context.get("review_comment") or ""))
    if asked:
        amount = float(asked.group(1))
    return {
        "summary": f"refund {amount} {data.get('currency', 'EUR')} for order {data['order_id']}",
        "actions": [
            {
                "capability": "http.post",
                "params": {
                    "target": "helpdesk",
                    "path": f"/refunds/{data['order_id']}",
                    "body": {
                        "order_id": data["order_id"],
                        "amount": amount,
                        "currency": data.get("currency", "EUR"),
                        "channel": data.get("channel", "email"),
                    },
                },
                "reason": f"The customer asks for a refund: {data['reason'][:200]}",
            }
        ],
    }


_RULES: dict[str, tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]] = {
    "ticket-triage": (_classify_ticket, _plan_ticket),
    "refund-request": (_classify_refund, _plan_refund),
}


class OfflineProvider:
    """Answers classify and plan requests from keyword rules, as JSON text."""

    def complete(self, request: ModelRequest) -> ModelResponse:
        rules = _RULES.get(request.process)
        if request.task == "classify":
            out = (
                rules[0](request.input)
                if rules
                else {
                    "intent": "unknown",
                    "urgency": "normal",
                    "language": "en",
                    "risk": "low",
                    "confidence": 0.0,
                }
            )
        else:
            out = (
                rules[1](request.input, request.context)
                if rules
                else {
                    "summary": "no offline rules for this process",
                    "actions": [],
                }
            )
        text = json.dumps(out)
        prompt_tokens = len(json.dumps(request.input)) // 4 + 50
        return ModelResponse(
            text=text, model_id=MODEL_ID, input_tokens=prompt_tokens, output_tokens=len(text) // 4
        )
