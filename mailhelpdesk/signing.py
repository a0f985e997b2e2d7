"""Signed reply addresses, Message-IDs and customer links: proofs that a token came from us."""

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

_SIG_LEN = 12
_STATUS_SIG_LEN = 24  # 120 bits: a status link opens a ticket's thread and takes replies, not just a score


def _sig(key: bytes, purpose: str, payload: str, length: int = _SIG_LEN) -> str:
    mac = hmac.new(key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:length]


@dataclass(frozen=True, slots=True)
class Signer:
    key: bytes

    def key_for(self, purpose: str) -> str:
        """A secret for one purpose (the panel's CSRF tokens), derived from the installation's key:
        knowing it signs nothing else."""
        return hmac.new(self.key, f"key:{purpose}".encode(), hashlib.sha256).hexdigest()

    def reply_address(self, mailbox_address: str, ticket_number: int) -> str:
        """``support+1042.<sig>@example.com`` for ticket 1042."""
        local, _, domain = mailbox_address.partition("@")
        return f"{local}+{ticket_number}.{_sig(self.key, 'reply', str(ticket_number))}@{domain}"

    def ticket_from_reply_address(self, address: str) -> int | None:
        match = _REPLY_ADDRESS.match(address.lower())
        if not match:
            return None
        number, sig = match.group(1), match.group(2)
        return int(number) if hmac.compare_digest(sig, _sig(self.key, "reply", number)) else None

    def agent_reply_address(self, mailbox_address: str, ticket_number: int, agent: str) -> str:
        """``support+1042.a.<sig>@example.com``: for one agent (or team address) and one ticket.

        The signature covers the ticket and the agent's address, so a mail to it proves that
        its sender (or a member of the team it was sent to) received our notification.
        """
        local, _, domain = mailbox_address.partition("@")
        return f"{local}+{ticket_number}.a.{_sig(self.key, 'agent', f'{ticket_number}:{agent.lower()}')}@{domain}"

    def ticket_from_agent_address(self, address: str, candidates: Iterable[str]) -> tuple[int, str] | None:
        """The ticket and the candidate (agent or team address) ``address`` was signed for, if any."""
        match = _AGENT_ADDRESS.match(address.lower())
        if not match:
            return None
        number, sig = match.group(1), match.group(2)
        for candidate in candidates:
            if hmac.compare_digest(sig, _sig(self.key, "agent", f"{number}:{candidate.lower()}")):
                return int(number), candidate.lower()
        return None

    def survey_signature(self, ticket_number: int) -> str:
        """Proof in a survey link that we sent it for this ticket (the score is the customer's choice)."""
        return _sig(self.key, "survey", str(ticket_number))

    def survey_valid(self, ticket_number: int, signature: str) -> bool:
        # compare_digest refuses non-ASCII text with a TypeError: such a signature is simply wrong.
        return signature.isascii() and hmac.compare_digest(signature.lower(), self.survey_signature(ticket_number))

    def status_signature(self, ticket_number: int) -> str:
        """Proof in a status-page link that we sent it for this ticket. The purpose is part of the MAC,
        so neither a survey signature nor a reply address opens a status page, nor the other way round."""
        return _sig(self.key, "status", str(ticket_number), _STATUS_SIG_LEN)

    def status_valid(self, ticket_number: int, signature: str) -> bool:
        # Non-ASCII would make compare_digest raise; any other length cannot be ours: both are simply wrong.
        return (signature.isascii() and len(signature) == _STATUS_SIG_LEN
                and hmac.compare_digest(signature.lower(), self.status_signature(ticket_number)))

    def status_form_token(self, ticket_number: int) -> str:
        """The hidden field of a status page's reply form: a POST must come from a page we rendered
        for this ticket. Only whoever holds the signed link can fetch that page."""
        return _sig(self.key, "status-form", str(ticket_number), _STATUS_SIG_LEN)

    def status_form_valid(self, ticket_number: int, token: str) -> bool:
        return token.isascii() and hmac.compare_digest(token, self.status_form_token(ticket_number))

    def message_id(self, ticket_number: int, domain: str) -> str:
        nonce = secrets.token_hex(6)
        payload = f"{ticket_number}.{nonce}"
        return f"mhd.{payload}.{_sig(self.key, 'msgid', payload)}@{domain}"

    def ticket_from_message_id(self, message_id: str) -> int | None:
        match = _MESSAGE_ID.match(message_id.lower())
        if not match:
            return None
        payload, sig = f"{match.group(1)}.{match.group(2)}", match.group(3)
        return int(match.group(1)) if hmac.compare_digest(sig, _sig(self.key, "msgid", payload)) else None


_REPLY_ADDRESS = re.compile(r"^[^@+]+\+(\d{1,12})\.([a-z2-7]{12})@")
_AGENT_ADDRESS = re.compile(r"^[^@+]+\+(\d{1,12})\.a\.([a-z2-7]{12})@")
_MESSAGE_ID = re.compile(r"^mhd\.(\d{1,12})\.([0-9a-f]{12})\.([a-z2-7]{12})@")
