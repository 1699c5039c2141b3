"""The CRM's ticket and contact notes (`crm.add_note`) and the support forum (`forum.reply`).

    POST {crm base_url}/{contacts|tickets}/{id}/notes   {"text"}           -> {"note_id"}
    GET  {crm base_url}/{contacts|tickets}/{id}/notes                     -> {"notes": [...]}
    POST {forum base_url}/threads/{thread_id}/replies   {"body"}           -> {"reply_id"}
    GET  {forum base_url}/threads/{thread_id}                             -> {"replies": [...]}

Each write carries `Idempotency-Key` = the action id. A public forum reply cannot be taken
back quietly, so neither capability is compensable; the process decides who sees a reply
before it goes out (see processes/customer-ops).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aios.capabilities import ActionContext, Capability, Risk, register
from pydantic import BaseModel, ConfigDict, Field, field_validator

from capabilities._connector import ConnectorConfig, call, segment


class CrmNotesConfig(ConnectorConfig):
    base_url: str = "https://crm.example.com/api"


class ForumConfig(ConnectorConfig):
    base_url: str = "https://forum.example.com/api"


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Literal["contact", "ticket"]
    subject_id: str = Field(pattern=r"^(CU|T)-[0-9]{1,12}$")
    text: str = Field(min_length=1, max_length=2000)


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: str = Field(pattern=r"^F-[0-9]{1,12}$")
    body: str = Field(min_length=1, max_length=5000)

    @field_validator("body")
    @classmethod
    def _no_markup(cls, value: str) -> str:
        if re.search(r"<\s*(script|iframe|img)\b", value, re.I):
            raise ValueError("a public reply carries no script, iframe or image markup")
        return value


def _note_path(params: Note) -> str:
    return f"/{params.subject}s/{segment(params.subject_id)}/notes"


def add_note(params: Note, ctx: ActionContext) -> dict[str, Any]:
    """Add the note once per action id."""
    answer = call(ctx, CrmNotesConfig, "CRM", "POST", _note_path(params), {"text": params.text})
    return {
        "subject": params.subject,
        "subject_id": params.subject_id,
        "note_id": answer.get("note_id"),
    }


def read_notes(params: Note, ctx: ActionContext) -> dict[str, Any]:
    return call(ctx, CrmNotesConfig, "CRM", "GET", _note_path(params))


def reply(params: Reply, ctx: ActionContext) -> dict[str, Any]:
    """Post the public reply once per action id."""
    path = f"/threads/{segment(params.thread_id)}/replies"
    answer = call(ctx, ForumConfig, "forum", "POST", path, {"body": params.body})
    return {"thread_id": params.thread_id, "reply_id": answer.get("reply_id")}


def read_thread(params: Reply, ctx: ActionContext) -> dict[str, Any]:
    return call(ctx, ForumConfig, "forum", "GET", f"/threads/{segment(params.thread_id)}")


register(
    Capability(
        name="crm.add_note",
        params_model=Note,
        risk=Risk.LOW,
        execute=add_note,
        read_state=read_notes,
        description="Add an internal note to a CRM contact or ticket.",
        secrets=("api_key",),
        config_model=CrmNotesConfig,
    )
)
register(
    Capability(
        name="forum.reply",
        params_model=Reply,
        risk=Risk.MEDIUM,
        execute=reply,
        read_state=read_thread,
        description="Post a public reply in a support-forum thread.",
        secrets=("api_key",),
        config_model=ForumConfig,
    )
)
