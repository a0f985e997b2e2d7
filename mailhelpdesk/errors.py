"""The one exception hierarchy of mailhelpdesk.

Exceptions mean a bug, an outage or bad configuration; expected outcomes of
processing a message are values (see ``domain.outcomes``).
"""


class MailHelpdeskError(Exception):
    """Root of every error raised on purpose by mailhelpdesk."""


class ConfigError(MailHelpdeskError):
    """Settings or a configuration file are invalid."""


class SeedFileError(ConfigError):
    """A companies/rules YAML file is invalid; the message carries file:line:column."""


class StoreError(MailHelpdeskError):
    """The database refused an operation we expected to succeed."""
