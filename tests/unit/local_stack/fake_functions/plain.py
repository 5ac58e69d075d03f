"""Fake handlers for the runtime's tracing and telemetry tests (no Powertools: nothing but the runtime's part)."""

import json
import os
import sys


def trace(event, context):
    """Returns the trace header the runtime gave this invocation."""
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}


def fail(event, context):
    raise RuntimeError("fake failure")


def chatter(event, context):
    """Writes an EMF document, a correlated log line and plain text, as Powertools would (to stdout)."""
    print(json.dumps({"_aws": {"Timestamp": 1_700_000_000_000, "CloudWatchMetrics": [{
        "Namespace": "Fake", "Dimensions": [["service"]], "Metrics": [{"Name": "Things", "Unit": "Count"}]}]},
        "service": "fake", "Things": [2.0]}))
    print(json.dumps({"level": "INFO", "message": "did a thing", "timestamp": "2026-11-25 10:00:00,250+0000",
                      "correlation_id": event["correlation_id"]}))
    print("plain text, not JSON", file=sys.stderr)
    return {}
