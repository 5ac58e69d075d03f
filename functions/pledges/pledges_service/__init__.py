"""Pledges service: idempotent donations, donor histories, the guest lookup, and the outbox relay."""
