"""``mailhelpdesk tickets list|show``."""

from typing import TextIO

from mailhelpdesk.store.models import Ticket


async def list_tickets(out: TextIO, status: str | None, limit: int) -> int:
    query = Ticket.all().order_by("-number").limit(limit).prefetch_related("requester", "company")
    if status:
        query = query.filter(status=status)
    rows = await query
    out.write(f"{'#':>7}  {'status':<8} {'urgency':<8} {'company':<24} {'requester':<30} subject\n")
    for t in rows:
        company = t.company.name if t.company else "-"
        out.write(f"{t.number:>7}  {t.status:<8} {t.urgency:<8} {company[:24]:<24} "
                  f"{t.requester.email[:30]:<30} {t.subject[:70]}\n")
    return len(rows)


async def show_ticket(out: TextIO, number: int) -> bool:
    ticket = await Ticket.get_or_none(number=number).prefetch_related(
        "requester", "company", "cc", "messages__attachments"
    )
    if ticket is None:
        return False
    cc = ", ".join(c.email for c in ticket.cc) or "-"
    out.write(f"#{ticket.number} {ticket.subject}\n")
    out.write(f"status: {ticket.status}  urgency: {ticket.urgency}  line: {ticket.line}  team: {ticket.team or '-'}"
              f"  mailbox: {ticket.mailbox}\n")
    out.write(f"company: {ticket.company.name if ticket.company else '-'}  "
              f"requester: {ticket.requester.name} <{ticket.requester.email}>  cc: {cc}\n")
    out.write(f"created: {ticket.created_at.isoformat()}  updated: {ticket.updated_at.isoformat()}\n")
    for m in sorted(ticket.messages, key=lambda m: (m.date, m.id)):
        flags = ",".join(k for k in ("auto_reply", "bounce") if m.flags.get(k)) or m.visibility
        out.write(f"\n--- {m.date.isoformat()}  {m.direction}  {flags}  from {m.from_addr}  "
                  f"[{m.thread_signal}]\n")
        out.write(f"Subject: {m.subject}\n\n{m.reply_text}\n")
        for a in m.attachments:
            out.write(f"  [attachment] {a.filename} ({a.content_type}, {a.size} bytes)\n")
    return True
