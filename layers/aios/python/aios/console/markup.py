"""The console's HTML frame: escaping, the page layout, the stylesheet and the headers.

Every value that reaches a page goes through `esc` (html.escape, quotes included); pages are
built from these small functions, never from templates that could forget it. The response
headers carry a strict Content-Security-Policy: no script at all, styles only from the
console's own stylesheet, forms only to the console itself, never framed.
"""

from __future__ import annotations

import html
import json
from typing import Any

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
CONTENT_TYPE = "text/html; charset=utf-8"
STYLESHEET = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#232f3e;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff}header form{margin-left:auto}
main{max-width:72rem;margin:1.2rem auto;padding:0 1.2rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}pre{background:#f4f4f4;padding:.6rem;overflow:auto;max-height:24rem}
dt{font-weight:600}dd{margin:0 0 .5rem 0}
section{background:#fff;border:1px solid #ddd;padding:.6rem 1rem;margin:1rem 0}
.ok{color:#1a7f37}.bad{color:#b00020}.muted{color:#666}.late{color:#b00020;font-weight:600}
form.inline{display:inline}label{display:block;font-weight:600;margin-top:.5rem}
input,select,textarea{font:inherit;padding:.3rem;max-width:100%}
textarea{width:100%;min-height:4rem}button{font:inherit;padding:.35rem 1rem;margin:.4rem .4rem 0 0}
fieldset{border:1px solid #ccc;margin:.5rem 0}.hint{color:#666;font-size:.9em}
nav.filters a{margin-right:.8rem}#message{padding:.5rem;background:#eef6ee;border:1px solid #9c9}
""".strip()


def esc(value: Any) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def pretty(value: Any) -> str:
    """A JSON value, indented, escaped for a <pre>."""
    return esc(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def page(
    title: str,
    body: str,
    *,
    base: str,
    signed_in_as: str = "",
    csrf: str = "",
) -> str:
    """A whole console page; the header shows who is signed in and a sign-out form."""
    nav = ""
    if signed_in_as:
        nav = (
            f"<a href='{esc(base)}'>Queues</a>"
            f"<span>Signed in as <b id=who>{esc(signed_in_as)}</b></span>"
            f"<form method=post action='{esc(base)}/sign-out'>"
            f"{hidden('csrf', csrf)}"
            "<button>Sign out</button></form>"
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)} · AIOS console</title>"
        "<meta name=viewport content='width=device-width'>"
        f"<link rel=stylesheet href='{esc(base)}/assets/console.css'></head>"
        f"<body><header><b>AIOS console</b>{nav}</header>"
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def hidden(name: str, value: str) -> str:
    return f"<input type=hidden name='{esc(name)}' value='{esc(value)}'>"
