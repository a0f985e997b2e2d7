"""``mailhelpdesk contacts``: how our mail addresses a customer (greeting, language, time zone)."""

from typing import TextIO

from mailhelpdesk.store.models import Contact
from mailhelpdesk.store.repository import transaction

FIELDS = ("preferred_name", "salutation", "language", "timezone")


async def set_contact(email: str, changes: dict[str, str], out: TextIO) -> bool:
    """Set the given fields ('' clears one); False if there is no such contact."""
    async with transaction():
        contact = await Contact.get_or_none(email=email.lower())
        if contact is None:
            return False
        for name, value in changes.items():
            setattr(contact, name, value)
        await contact.save(update_fields=list(changes))
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
