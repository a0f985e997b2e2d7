"""The client card and the company page: who a customer is, how to address them, their tickets.

The card's form changes what ``mailhelpdesk contacts set`` changes, through the same store
function (``store/cards.py``'s ``update_contact``). A company is shown read-only: its tier,
domains and defaults are the admin's, in the rules file.
"""

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime
from mailhelpdesk.store.cards import CONTACT_FIELDS, FIELD_MAX, CardStore, ContactCard, update_contact
from mailhelpdesk.tickets.actor import Actor
from mailhelpdesk.web.pages import page, user_of

LABELS = {"preferred_name": "Preferred name", "salutation": "Salutation", "language": "Language",
          "timezone": "Time zone"}
# The shape of an IANA zone name ("Europe/Moscow", "Etc/GMT+3", "UTC"): no path tricks reach zoneinfo.
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")
# Zone files that exist on a system but name no place: a customer is never "localtime".
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
# Characters that reorder the text around them: in a greeting they could make our mail read other
# than it was written. (Other invisible ones, such as the joiners of emoji and Persian names, are fine.)
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True)
class ContactForm:
    """The card's form. A field left out of the request is left alone; an empty one clears it."""

    preferred_name: str | None = None
    salutation: str | None = None
    language: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """A form's values as cleaned, the changes they make, and what is wrong with them by field."""

    values: dict[str, str]
    changes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cards:
    runtime: Runtime
    clock: Callable[[], datetime]
    store: CardStore = field(default_factory=CardStore)

    def handlers(self) -> list[AnyCallable]:
        cards = self

        @get("/contacts/{contact_id:int}")
        async def contact_page(request: Request[Any, Any, Any], contact_id: FromPath[int],
                               saved: FromQuery[bool] = False) -> Template:
            card = await cards._card(contact_id)
            return page("contact.html.j2", request, **cards._contact_context(card, _values(card), {}, saved))

        @post("/contacts/{contact_id:int}", status_code=303)
        async def contact_edit(request: Request[Any, Any, Any], contact_id: FromPath[int],
                               data: Annotated[ContactForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
                               ) -> Redirect | Template:
            return await cards._edit(request, contact_id, data)

        @get("/contacts")
        async def contact_by_email(email: FromQuery[str]) -> Redirect:
            found = await cards.store.contact_id(email[:320])
            if found is None:
                raise NotFoundException("no contact with that address")
            return Redirect(f"/contacts/{found}", status_code=303)

        @get("/companies/{company_id:int}")
        async def company_page(request: Request[Any, Any, Any], company_id: FromPath[int]) -> Template:
            shown = await cards.store.company_page(company_id)
            if shown is None:
                raise NotFoundException(f"no company {company_id}")
            rules_file = cards.runtime.settings.rules_file
            return page("company.html.j2", request, shown=shown, company=shown.company,
                        rules_file=str(rules_file) if rules_file else "")

        return [contact_page, contact_edit, contact_by_email, company_page]

    async def _card(self, contact_id: int) -> ContactCard:
        card = await self.store.contact_card(contact_id)
        if card is None:
            raise NotFoundException(f"no contact {contact_id}")
        return card

    async def _edit(self, request: Request[Any, Any, Any], contact_id: int, form: ContactForm) -> Redirect | Template:
        """Write a valid form and go back to the card (303); show an invalid one again (400), writing nothing."""
        card = await self._card(contact_id)
        checked = check_form(form, card, self.runtime.templates.languages())
        if checked.errors:
            context = self._contact_context(card, checked.values, checked.errors, False)
            return Template("contact.html.j2", context={"user": user_of(request), **context}, status_code=400)
        actor = str(Actor.agent(user_of(request).email))
        if await update_contact(self.runtime.repo, contact_id, checked.changes, actor, self.clock()) is None:
            raise NotFoundException(f"no contact {contact_id}")  # deleted between the read and the write
        return Redirect(f"/contacts/{contact_id}?saved=1", status_code=303)

    def _contact_context(self, card: ContactCard, values: dict[str, str], errors: dict[str, str],
                         saved: bool) -> dict[str, Any]:
        languages = self.runtime.templates.languages()
        if card.language and card.language not in languages:  # learnt from mail: keep it choosable
            languages = [*languages, card.language]
        return {"card": card, "values": values, "errors": errors, "saved": saved and not errors,
                "labels": LABELS, "limits": FIELD_MAX, "languages": languages,
                "default_language": self.runtime.settings.default_language,
                "local_time": local_time(card.timezone or (card.company.timezone if card.company else ""),
                                         self.clock())}


def _values(card: ContactCard) -> dict[str, str]:
    return {name: str(getattr(card, name)) for name in CONTACT_FIELDS}


def check_form(form: ContactForm, card: ContactCard, languages: Sequence[str]) -> Checked:
    """The form's values cleaned and checked against the contact as stored.

    A value the contact already has always passes, so a language learnt from their mail that
    has no templates (say ``uk``) does not block saving the other fields.
    """
    values, changes, errors = _values(card), {}, {}
    for name in CONTACT_FIELDS:
        given = getattr(form, name)
        if given is None:
            continue
        value = " ".join(given.split()) if name in ("preferred_name", "salutation") else given.strip()
        value = value.lower() if name == "language" else value
        values[name] = value
        if value == getattr(card, name):
            continue
        problem = _problem(name, value, languages)
        if problem:
            errors[name] = f"{LABELS[name]}: {problem}"
        else:
            changes[name] = value
    return Checked(values, changes, errors)


def _problem(name: str, value: str, languages: Sequence[str]) -> str:
    """What is wrong with a new value for a field ('' if nothing); an empty value clears the field."""
    if len(value) > FIELD_MAX[name]:
        return f"at most {FIELD_MAX[name]} characters, not {len(value)}."
    if not value:
        return ""
    if any(unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS for c in value):
        return "no control characters."
    if name == "language" and value not in languages:
        return f"our mail has no templates in {value!r}; choose one of {', '.join(languages)}, or none."
    if name == "timezone" and not is_time_zone(value):
        return f"unknown time zone {value!r}; use a name such as Europe/Moscow or America/New_York."
    return ""


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone the mail can use (``outbound/context.py`` loads it so)."""
    if name in _NOT_ZONES or not _ZONE_NAME.fullmatch(name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def local_time(zone: str, now: datetime) -> str:
    """The customer's clock now, e.g. "Tue 14:05 (UTC+03:00)"; '' without a usable zone."""
    if not zone or not is_time_zone(zone):
        return ""
    moment = now.astimezone(ZoneInfo(zone))
    offset = moment.strftime("%z")
    return f"{moment:%a %H:%M} (UTC{offset[:3]}:{offset[3:]})"
