"""The one-line result of a form, shown once on the page the form sends the agent back to.

A short-lived cookie, not a query parameter: a link someone else crafted cannot make the
panel claim something was done.
"""

from typing import Any
from urllib.parse import quote, unquote

from litestar import Request
from litestar.response import Redirect

FLASH_COOKIE = "mhd_flash"


def flash_redirect(url: str, text: str, ok: bool = True) -> Redirect:
    """Back to ``url`` (303: the browser GETs it), showing ``text`` there once."""
    response = Redirect(url, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(("ok:" if ok else "error:") + text[:1000], safe=""), path="/",
                        max_age=60, httponly=True, samesite="lax")
    return response


def take_flash(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    """("ok" or "error", text), if a form left one; the page deletes the cookie."""
    value = unquote(request.cookies.get(FLASH_COOKIE, ""))
    kind, _, text = value.partition(":")
    return (kind, text) if kind in ("ok", "error") and text else None
