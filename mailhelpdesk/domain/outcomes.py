"""Outcomes of a pipeline step: values, not exceptions."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Continue:
    """Go on with the next step."""


@dataclass(frozen=True, slots=True)
class Ignore:
    """Stop: the message is deliberately not turned into a ticket message."""

    reason: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Stop: the message cannot be processed as is and goes to quarantine."""

    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Stop: the message was already processed."""

    reason: str


Outcome = Continue | Ignore | Hold | Duplicate
CONTINUE = Continue()
