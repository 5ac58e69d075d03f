"""Calling the sandbox provider's function over moto and reading the webhooks it scheduled."""

from __future__ import annotations

import json

import boto3


def call_provider(stack, sb, **payload) -> dict:
    """Invokes the provider function with the sample authorize event, overridden by `payload`."""
    event = stack.event("sandbox_provider_authorize")
    event.update(payload)
    return sb.provider_handler(event, stack.context)


def queued_webhooks(stack) -> list[dict]:
    """Every webhook event the provider scheduled on its queue (drained)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url, messages = stack.environment["WEBHOOK_QUEUE_URL"], []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(batch)
    return [json.loads(m["Body"]) for m in messages]
