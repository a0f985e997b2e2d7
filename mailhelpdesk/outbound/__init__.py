"""Mail we send: templates rendered, composed as MIME, queued in the outbox, delivered over SMTP."""
