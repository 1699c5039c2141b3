"""Offline rules of `ticket-triage`: the local stand-in for a model (see aios.providers.offline).

Keyword rules, not a model: billing words make a billing ticket, failure words a technical one;
urgency words or a high priority make it urgent. The plan records the triage on the ticket and
posts it to the helpdesk.
"""

from __future__ import annotations

import re
from typing import Any

_BILLING = re.compile(r"\b(charge[ds]?|refund|invoice|billing|payment|card)\b", re.I)
_TECHNICAL = re.compile(r"\b(error|bug|crash|broken|down|fails?)\b", re.I)
_URGENT = re.compile(r"\b(urgent|asap|immediately|outage|down)\b", re.I)


def classify(data: dict[str, Any]) -> dict[str, Any]:
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


def plan(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    triage = context.get("classification") or classify(data)
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
