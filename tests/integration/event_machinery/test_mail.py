"""SES in the local stack: mail a function sends through the emulator is captured, and listed by the
gateway at GET /_local/mail. The function is invoked through the AWS endpoint's Lambda Invoke API."""

from __future__ import annotations

import json

import requests

from tests.integration.event_machinery.support import unique


def test_invoke_mailer_through_aws_endpoint_mail_listed_by_local_outbox(machinery, probe):
    subject = unique("subject")
    response = probe.lambda_.invoke(FunctionName="careforall-Mailer", Payload=json.dumps(
        {"to": "donor@example.com", "subject": subject, "text": "Thank you for your gift."}).encode())

    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read())["message_id"]
    outbox = requests.get(f"{machinery.base_url}/_local/mail", timeout=10)
    assert outbox.status_code == 200
    sent = [m for m in outbox.json()["messages"] if m["subject"] == subject]
    assert [(m["from"], m["to"], m["text"]) for m in sent] == [
        ("noreply@careforall.local", ["donor@example.com"], "Thank you for your gift.")]
