"""Offline rules of `refund-request`: the local stand-in for a model (see aios.providers.offline).

Every request is a refund of the amount asked for, or of the amount a reviewer's comment names
("amount 40").
"""

from __future__ import annotations

import re
from typing import Any


def classify(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "intent": "refund",
        "urgency": "normal",
        "language": "en",
        "risk": "medium",
        "confidence": 0.8,
    }


_AMOUNT = re.compile(r"\bamount\s*(?:to|=|:)?\s*([0-9]+(?:\.[0-9]{1,2})?)", re.I)


def plan(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
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
