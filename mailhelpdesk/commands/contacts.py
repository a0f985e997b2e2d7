"""``mailhelpdesk contacts``: how our mail addresses a customer (greeting, language, time zone)."""

from datetime import UTC, datetime
from typing import TextIO

from mailhelpdesk.store.cards import CONTACT_FIELDS, update_contact
from mailhelpdesk.store.models import Contact
from mailhelpdesk.store.repository import Repository
from mailhelpdesk.tickets.actor import SYSTEM

FIELDS = CONTACT_FIELDS


async def set_contact(email: str, changes: dict[str, str], out: TextIO) -> bool:
    """Set the given fields ('' clears one); False if there is no such contact.

    The panel's client card writes through the same ``update_contact``, so both record who
    changed what the same way (here: the system, as the command has no agent to name).
    """
    if await update_contact(Repository(), email, changes, str(SYSTEM), datetime.now(UTC)) is None:
        return False
    await show_contact(email, out)
    return True


async def show_contact(email: str, out: TextIO) -> bool:
    contact = await Contact.get_or_none(email=email.lower()).prefetch_related("company")
    if contact is None:
        return False
    company = contact.company.name if contact.company else "-"
    out.write(f"{contact.email}  name {contact.name or '-'}  company {company}\n"
              f"  preferred name {contact.preferred_name or '-'}, salutation {contact.salutation or '-'}, "
              f"language {contact.language or '-'}, time zone {contact.timezone or '-'}\n")
    return True
