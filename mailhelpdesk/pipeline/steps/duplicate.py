"""Skip re-deliveries; give a fresh ID to a different message that reuses a Message-ID."""

from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Duplicate, Outcome
from mailhelpdesk.mail.parse import synthesize_message_id
from mailhelpdesk.pipeline.context import MailContext, thread_ids
from mailhelpdesk.store.repository import Repository


@dataclass(frozen=True, slots=True)
class DuplicateStep:
    repo: Repository
    name: str = "duplicate"

    async def run(self, ctx: MailContext) -> Outcome:
        mail = ctx.parsed
        # The IDs the mail refers to, and a reply naming it, come along in the same query: threading needs them next.
        lookup = await self.repo.thread_lookup(mail.message_id, thread_ids(mail))
        ctx.stored_messages, ctx.later_reply = lookup.stored, lookup.later_reply
        existing = ctx.stored_messages.get(mail.message_id)
        if existing is None:
            return CONTINUE
        if existing.fingerprint == mail.fingerprint:
            return Duplicate(f"already stored as message {existing.id} (same Message-ID and content)")
        original = mail.message_id
        mail.message_id = synthesize_message_id(mail.fingerprint)
        mail.message_id_synthesized = True
        mail.defects.append(f"DuplicateMessageId: <{original}> belongs to another message; replaced")
        if await self.repo.message_by_message_id(mail.message_id) is not None:
            return Duplicate(f"already stored under synthesized Message-ID <{mail.message_id}>")
        return CONTINUE
