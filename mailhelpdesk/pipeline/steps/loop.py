"""Drop our own mail coming back (X-Loop, our addresses), so we never talk to ourselves."""

from dataclasses import dataclass

from mailhelpdesk.addresses import is_ours
from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.pipeline.context import MailContext


@dataclass(frozen=True, slots=True)
class LoopStep:
    our_addresses: frozenset[str]
    loop_token: str
    name: str = "loop"

    async def run(self, ctx: MailContext) -> Outcome:
        mail = ctx.parsed
        if any(v.strip().lower() == self.loop_token for v in mail.header_all("X-Loop")):
            return Ignore(f"loop: X-Loop is ours ({self.loop_token})")
        sender = mail.sender[1] if mail.sender else ""
        if is_ours(sender, self.our_addresses):
            return Ignore(f"loop: sent from our own address {sender}")
        return CONTINUE

