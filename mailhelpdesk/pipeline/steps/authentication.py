"""Mark mail whose sender our own receiving server found forged (DMARC or SPF failed).

Such mail still makes or joins a ticket: agents see it, and a real customer behind a broken
forwarder is not lost. It is only kept from causing automatic mail (``MailContext.quiet``):
an acknowledgement to a forged sender mails an innocent stranger, and a storm of forged mail
would otherwise spend the outbox's brakes on strangers. ``mail/auth_results.py`` decides which
``Authentication-Results`` headers are our server's and what they say.
"""

from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.mail.auth_results import sender_verdict
from mailhelpdesk.pipeline.context import MailContext


@dataclass(frozen=True, slots=True)
class AuthenticationStep:
    authserv_ids: frozenset[str]  # lowercase; none configured: the step reads nothing
    name: str = "authentication"

    async def run(self, ctx: MailContext) -> Outcome:
        if not self.authserv_ids:
            return CONTINUE
        verdict = sender_verdict(ctx.raw, self.authserv_ids)
        if verdict.verdict == "fail":
            ctx.unauthenticated = verdict.reason
            ctx.notes.append(f"{verdict.reason}: no automatic mail in answer")
        return CONTINUE
