"""The ticket-actions service: the one writer of ticket state."""
