"""Offline rules of `contact-update`: the local stand-in for a model (see aios.providers.offline).

Regular expressions, not a model: "phone ... <number>", "email ... <address>" and
"address ... to <text>" become the fields to change.
"""

from __future__ import annotations

import re
from typing import Any

_PHONE = re.compile(r"\bphone(?: number)?\b[^+0-9]{0,30}(\+?[0-9][0-9 ()/-]{5,24}[0-9])", re.I)
_EMAIL_WORD = re.compile(r"\be-?mail\b", re.I)
_EMAIL = re.compile(r"[^@\s:<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
_ADDRESS = re.compile(
    r"(?<!mail )\baddress\b.{0,20}?\b(?:to|is|:)\s*(.{5,120}?)\.?\s*$", re.I | re.M
)


def _changes(message: str) -> dict[str, str]:
    found: dict[str, str] = {}
    phone = _PHONE.search(message)
    if phone:
        found["phone"] = phone.group(1).strip()
    email = _EMAIL.search(message) if _EMAIL_WORD.search(message) else None
    if email:
        found["email"] = email.group(0).rstrip(".")
    address = _ADDRESS.search(message)
    if address:
        found["address"] = address.group(1).strip()
    return found


def classify(data: dict[str, Any]) -> dict[str, Any]:
    changes = _changes(data.get("message", ""))
    return {
        "intent": "update_contact" if changes else "other",
        "urgency": "normal",
        "language": "en",
        "risk": "high" if "email" in changes else "medium" if changes else "low",
        "confidence": 0.9 if changes else 0.6,
    }


def plan(data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    changes = _changes(data["message"])
    if not changes:
        return {"summary": "nothing to change", "actions": []}
    return {
        "summary": f"update {', '.join(sorted(changes))} of {data['contact_id']}",
        "actions": [
            {
                "capability": "crm.update_contact",
                "params": {"contact_id": data["contact_id"], "fields": changes},
                "reason": "The customer asked for this change in their message.",
            }
        ],
    }
