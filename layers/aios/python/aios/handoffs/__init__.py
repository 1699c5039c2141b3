"""Handoffs: a case automation gives up on waits for a person, on its own audit chain.

| module    | what it holds                                                               |
| --------- | --------------------------------------------------------------------------- |
| `records` | the typed `HandoffRecord` of a handoff item, and reading it                  |
| `manual`  | checking actions a person makes by hand; the forms to make them             |
| `notices` | what the handlers are told (email, Slack) and sending it                    |
| `wait`    | the case machine's side: await (keep the token, notify), remind, resume     |

Decide records a handoff (`aios.planning`); people move it through `aios.operator`.
"""
