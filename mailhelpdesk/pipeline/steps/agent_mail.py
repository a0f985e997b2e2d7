"""Mail from a declared agent: trusted only with proof that they received our notification.

A From line is easy to forge, so an agent's mail may answer a customer or change a ticket
only when it also proves it came from someone who got our mail: it is addressed to the
agent's signed reply address for the ticket (every notification carries one), or it replies
to a Message-ID we sent that agent (or their team's address). Mail from an agent to a
customer with the desk copied is recorded as the agent's, never as a customer's request.
Anything else from an agent's address is kept on its ticket as an unverified record.
"""

from collections.abc import Callable
from dataclasses import dataclass

from mailhelpdesk.addresses import is_ours
from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.domain.types import ThreadSignal
from mailhelpdesk.mail.subjects import ticket_tokens
from mailhelpdesk.pipeline.context import AgentMail, MailContext, ThreadMatch
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.outbox import OutboxStore
from mailhelpdesk.store.repository import Repository, TicketRef


@dataclass(frozen=True, slots=True)
class AgentMailStep:
    repo: Repository
    outbox: OutboxStore
    signer: Signer
    rules: Callable[[], RuleSet]
    our_addresses: frozenset[str]
    name: str = "agent_mail"

    async def run(self, ctx: MailContext) -> Outcome:
        mail, ruleset = ctx.parsed, self.rules()
        sender = mail.sender[1].lower() if mail.sender else ""
        if ctx.is_automatic or not sender or not ruleset.is_agent(sender):
            return CONTINUE
        customers = [(n, a) for n, a in (*mail.to, *mail.cc)
                     if not is_ours(a, self.our_addresses) and not ruleset.is_agent(a)]
        proof = await self._proof(ctx, sender, _candidates(ruleset, sender))
        if proof is not None:
            ticket, how = proof
            ctx.thread = ThreadMatch(ticket, ctx.thread.signal if ctx.thread and ctx.thread.ticket == ticket
                                     else ThreadSignal.REPLY_ADDRESS, how)
            if customers:  # the customer has it already: the desk sends nothing twice, takes no commands
                ctx.agent = AgentMail(sender, "direct", f"{how}, and written to {customers[0][1]} as well: "
                                      "recorded, nothing relayed, no commands taken", customers[0])
                return CONTINUE
            ctx.agent = AgentMail(sender, "verified", how)
            return CONTINUE
        found = await self._ticket(ctx)
        if customers and (found is None or await self._its_people(found, customers)):
            ctx.thread = ThreadMatch(found, ctx.thread.signal if ctx.thread else ThreadSignal.NEW,
                                     ctx.thread.detail if ctx.thread else "")
            ctx.agent = AgentMail(sender, "direct", f"written to {customers[0][1]} with the desk copied",
                                  customers[0])
            return CONTINUE
        if found is None:
            return Ignore(f"mail from agent {sender} about no ticket: agents answer tickets by replying to our "
                          "notifications; a customer's request comes from the customer")
        ctx.agent = AgentMail(sender, "unverified", _unverified(sender, found.number))
        return CONTINUE

    async def _proof(self, ctx: MailContext, sender: str, candidates: list[str]) -> tuple[TicketRef, str] | None:
        mail = ctx.parsed
        recipients = [a for _, a in (*mail.to, *mail.cc)]
        recipients += [v.strip("<> ").lower() for v in mail.header_all("Delivered-To")]
        for address in recipients:
            signed = self.signer.ticket_from_agent_address(address, candidates)
            if signed is not None and (ticket := await self.repo.live_ticket_ref(signed[0])):
                return ticket, f"sent to the reply address signed for {signed[1]} on #{signed[0]}"
        replied = [*mail.in_reply_to, *reversed(mail.references)]
        ticket_id = await self.outbox.sent_to(replied, candidates)
        if ticket_id is not None and (ticket := await self.repo.ticket_ref(ticket_id=ticket_id)):
            live = await self.repo.live_ticket_ref(ticket.number)
            return live or ticket, f"in reply to our mail to {sender} (or their team) on #{ticket.number}"
        return None

    async def _its_people(self, ticket: TicketRef, customers: list[tuple[str, str]]) -> bool:
        """Whether the mail went to the ticket's requester or cc (else it is no answer on that ticket)."""
        addresses = {a.lower() for _, a in customers}
        return ticket.requester_email in addresses or bool(addresses & await self.repo.ticket_cc_emails(ticket.id))

    async def _ticket(self, ctx: MailContext) -> TicketRef | None:
        """The ticket threading found, else the one a ``[#N]`` subject token names (agents belong
        to every ticket)."""
        if ctx.thread is not None and ctx.thread.ticket is not None:
            return ctx.thread.ticket
        for number in ticket_tokens(ctx.parsed.subject):
            ticket = await self.repo.live_ticket_ref(number)
            if ticket is not None:
                ctx.thread = ThreadMatch(ticket, ThreadSignal.SUBJECT_TOKEN, f"[#{number}] from agent")
                return ticket
        return None


def _candidates(ruleset: RuleSet, sender: str) -> list[str]:
    """The agent's address and their teams' addresses: a notification went to one of them."""
    agent = ruleset.agent(sender)
    teams = [ruleset.teams[t] for t in agent.teams if t in ruleset.teams] if agent else []
    return [sender, *(t.address for t in teams if t.address)]


def _unverified(sender: str, number: int) -> str:
    return (f"from {sender}, a declared agent, but neither sent to their signed reply address for #{number} "
            "nor in reply to mail we sent them: nothing was changed or sent")
