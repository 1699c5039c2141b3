"""The console's pages that need no case data: sign-in, new password, errors and messages."""

from __future__ import annotations

from aios.console.markup import esc, hidden, page


def sign_in_page(
    base: str, csrf: str, *, message: str = "", username: str = "", next_path: str = ""
) -> str:
    """The sign-in form (POST to `<base>/sign-in`)."""
    note = f"<p id=message class=bad>{esc(message)}</p>" if message else ""
    body = (
        f"{note}<form method=post action='{esc(base)}/sign-in'>"
        f"{hidden('csrf', csrf)}{hidden('next', next_path)}"
        "<label for=username>Username</label>"
        f"<input id=username name=username autocomplete=username required value='{esc(username)}'>"
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required>"
        "<p><button>Sign in</button></p></form>"
        "<p class=muted>Accounts are created by an admin; there is no self sign-up.</p>"
    )
    return page("Sign in", body, base=base)


def new_password_page(
    base: str, csrf: str, *, username: str, session: str, next_path: str = "", message: str = ""
) -> str:
    """The first sign-in's form: choose a password (answers NEW_PASSWORD_REQUIRED)."""
    note = f"<p id=message class=bad>{esc(message)}</p>" if message else ""
    body = (
        f"{note}<p>Choose a new password for <b>{esc(username)}</b> "
        "(12 characters or more, with upper and lower case letters, a digit and a symbol).</p>"
        f"<form method=post action='{esc(base)}/sign-in'>"
        f"{hidden('csrf', csrf)}{hidden('next', next_path)}{hidden('username', username)}"
        f"{hidden('session', session)}"
        "<label for=new_password>New password</label>"
        "<input id=new_password name=new_password type=password autocomplete=new-password required>"
        "<p><button>Set password and sign in</button></p></form>"
    )
    return page("Choose a password", body, base=base)


def message_page(
    title: str,
    message: str,
    *,
    base: str,
    signed_in_as: str = "",
    csrf: str = "",
    links: tuple[tuple[str, str], ...] = (),
) -> str:
    """A page that says one thing (an error, or the result of a move), with links on."""
    more = "".join(f"<p><a href='{esc(href)}'>{esc(text)}</a></p>" for href, text in links)
    return page(
        title,
        f"<p id=message>{esc(message)}</p>{more}",
        base=base,
        signed_in_as=signed_in_as,
        csrf=csrf,
    )
