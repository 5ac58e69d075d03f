"""The local stack logs every invocation with the function, its source and its outcome."""

from __future__ import annotations

import re

from tests.integration.event_machinery.support import eventually, unique


def test_stream_and_sqs_deliveries_logged_with_function_source_and_outcome(machinery, probe):
    key, message = unique("logged"), unique("logged")
    probe.write((key, "ok"))
    probe.send("WorkQueue", message)
    probe.delivered("stream", key)
    probe.delivered("queue", message)

    eventually(lambda: re.search(r"invoke StreamConsumer source=stream .*\bok\b", machinery.log()),
               what="a logged stream invocation")
    eventually(lambda: re.search(r"invoke QueueConsumer source=sqs .*\bok\b", machinery.log()),
               what="a logged SQS invocation")
