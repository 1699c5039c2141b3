"""The operator console: server-rendered pages over `aios.operator` and `aios.approvals`.

The console function (`functions/console`) stays thin: it turns the authorizer's claims into
an `Operator`, checks CSRF, calls one library function and renders with this package. No page
needs a script; everything a person does is a POST form.

| module     | what it holds                                                            |
| ---------- | ------------------------------------------------------------------------ |
| `identity` | the signed-in person from the Cognito authorizer's claims                |
| `session`  | signing in with the user pool (and a first password), the session cookie |
| `csrf`     | CSRF tokens bound to the session, the sign-in form token, origin checks  |
| `markup`   | escaping, the page frame, the stylesheet, strict security headers        |
| `forms`    | HTML forms from a params JSON schema, and the posted values parsed back  |
| `pages`    | sign-in, new password, message pages                                     |
| `queues`   | the queue pages: who sees which entries, filters and sort                |
| `case`     | the case page and the act-by-hand page                                   |
| `deciding` | deciding an approval as the process's approver named by the email       |
"""

from aios.console.case import act_body, actions_from_form, case_body, require_viewer
from aios.console.csrf import csrf_key
from aios.console.deciding import approver_name, decide_approval
from aios.console.identity import Session, operator_of, parse_groups, session_from_claims
from aios.console.markup import CONTENT_TYPE, HEADERS, STYLESHEET, page
from aios.console.pages import message_page, new_password_page, sign_in_page
from aios.console.queues import (
    QUEUE_TITLES,
    QUEUES,
    QueueQuery,
    home_body,
    may_see,
    queue_body,
    visible,
)
from aios.console.session import (
    NewPasswordRequired,
    SignedIn,
    cleared_cookie,
    safe_next,
    session_cookie,
    set_new_password,
    sign_in,
)

__all__ = [
    "CONTENT_TYPE",
    "HEADERS",
    "QUEUES",
    "QUEUE_TITLES",
    "STYLESHEET",
    "NewPasswordRequired",
    "QueueQuery",
    "Session",
    "SignedIn",
    "act_body",
    "actions_from_form",
    "approver_name",
    "case_body",
    "cleared_cookie",
    "csrf_key",
    "decide_approval",
    "home_body",
    "may_see",
    "message_page",
    "new_password_page",
    "operator_of",
    "page",
    "parse_groups",
    "queue_body",
    "require_viewer",
    "safe_next",
    "session_cookie",
    "session_from_claims",
    "set_new_password",
    "sign_in",
    "sign_in_page",
    "visible",
]
