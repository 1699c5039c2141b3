"""A support forum on loopback for `forum.reply`: threads and their public replies."""

from __future__ import annotations

import re
from typing import Any

from local.services import Answer, LoopbackService

THREAD = re.compile(r"^/threads/(F-[0-9]+)(/replies)?$")


class Forum(LoopbackService):
    name = "forum"
    mounts = ("forum.reply",)

    def reset(self) -> None:
        self.threads: dict[str, list[dict[str, Any]]] = {}

    def route(self, method: str, path: str, body: Any) -> Answer:
        match = THREAD.match(path)
        if match is None:
            return Answer(404, {"error": f"no such resource {path}"})
        replies = self.threads.setdefault(match.group(1), [])
        if method == "GET" and match.group(2) is None:
            return Answer(200, {"thread_id": match.group(1), "replies": list(replies)})
        if method != "POST" or match.group(2) is None:
            return Answer(405, {"error": "GET a thread or POST a reply"})
        reply = {"reply_id": f"r_{sum(len(r) for r in self.threads.values()) + 1}",
                 "body": str(body["body"])}  # fmt: skip
        replies.append(reply)
        return Answer(200, dict(reply))


SERVICE = Forum()
