"""A CRM on loopback for `crm.add_note`: notes on contacts and tickets."""

from __future__ import annotations

import re
from typing import Any

from local.services import Answer, LoopbackService

NOTES = re.compile(r"^/(contacts|tickets)/((?:CU|T)-[0-9]+)/notes$")


class Crm(LoopbackService):
    name = "crm"
    mounts = ("crm.add_note",)

    def reset(self) -> None:
        self.notes: dict[str, list[dict[str, Any]]] = {}

    def route(self, method: str, path: str, body: Any) -> Answer:
        match = NOTES.match(path)
        if match is None:
            return Answer(404, {"error": f"no such resource {path}"})
        notes = self.notes.setdefault(f"{match.group(1)}/{match.group(2)}", [])
        if method == "GET":
            return Answer(200, {"notes": list(notes)})
        if method != "POST":
            return Answer(405, {"error": "GET or POST notes"})
        note = {"note_id": f"n_{sum(len(n) for n in self.notes.values()) + 1}",
                "text": str(body["text"])}  # fmt: skip
        notes.append(note)
        return Answer(200, dict(note))


SERVICE = Crm()
