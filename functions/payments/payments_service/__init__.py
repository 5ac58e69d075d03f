"""Payments service: the payment workflow's tasks, provider webhooks, and the payment read API."""
