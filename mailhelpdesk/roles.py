"""The parts of the running service that ``serve --role`` can run apart (see ``server``)."""

ROLES = ("web", "intake", "worker", "scheduler", "sender")
