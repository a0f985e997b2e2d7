"""mailhelpdesk: an email-native helpdesk."""

__version__ = "0.1.0"
