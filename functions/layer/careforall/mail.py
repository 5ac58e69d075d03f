"""Plain-text email through SES v2 (locally the emulator keeps every message for /_local/mail)."""

from __future__ import annotations

import boto3


class SesMailer:
    def __init__(self, sender: str, client=None) -> None:
        self._sender = sender
        self._client = client or boto3.client("sesv2")

    def send(self, to: str, subject: str, text: str) -> None:
        self._client.send_email(FromEmailAddress=self._sender, Destination={"ToAddresses": [to]},
                                Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}})
