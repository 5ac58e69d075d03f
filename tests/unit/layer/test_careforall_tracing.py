"""careforall.tracing: stored X-Ray trace headers joined by stream consumers, and per-record correlation ids.

Powertools' Tracer is disabled in the tests (POWERTOOLS_TRACE_DISABLED); the enabled cases flip
`tracer.disabled` and point AWS_XRAY_DAEMON_ADDRESS at a UDP socket the test binds, then read the
segment documents the module sends there, as the X-Ray daemon would.
"""

from __future__ import annotations

import json
import os
import re
import socket

import pytest

from careforall import observability, tracing
from careforall.observability import logger

from tests.unit.layer.observability_support import observed  # noqa: F401 - a fixture

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
SAMPLED = f"Root={ROOT};Parent={PARENT};Sampled=1"
FUNCTION_NAME = "careforall-PaymentProjectorFunction"
DAEMON_HEADER = {"format": "json", "version": 1}
SENTINEL = {"sentinel": True}


class Daemon:
    """A stand-in X-Ray daemon: a bound UDP socket; `segments()` reads what arrived, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def segment(self) -> dict:
        """The next datagram's segment; its first line must be the daemon protocol header."""
        data, _ = self.sock.recvfrom(65_535)
        header, _, body = data.decode().partition("\n")
        assert json.loads(header) == DAEMON_HEADER
        return json.loads(body)

    def segments_before_sentinel(self) -> list[dict]:
        """Everything sent so far: a sentinel goes through the module's own socket (UDP on loopback keeps the
        order of one sender), then datagrams are read until it comes back. No sleeping for silence."""
        tracing._send_segment(SENTINEL)
        received = []
        while (segment := self.segment()) != SENTINEL:
            received.append(segment)
        return received


@pytest.fixture
def daemon(monkeypatch):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)  # a bound on a broken test, never a wait: every read expects a datagram already sent
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{sock.getsockname()[1]}")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
    tracing._daemon.cache_clear()
    try:
        yield Daemon(sock)
    finally:
        if tracing._daemon.cache_info().currsize:
            tracing._daemon()[0].close()
        tracing._daemon.cache_clear()
        sock.close()


@pytest.fixture
def tracing_on(monkeypatch, daemon) -> Daemon:
    monkeypatch.setattr(observability.tracer, "disabled", False)
    return daemon


@pytest.fixture
def restore_correlation_id():
    previous = logger.get_correlation_id()
    try:
        yield
    finally:
        logger.set_correlation_id(previous)


# ---------------------------------------------------------------------------------------- joined_trace
def test_joined_trace_sampled_header_sends_one_segment_of_that_trace(tracing_on):
    with tracing.joined_trace(SAMPLED, pledge_id="p-1", correlation_id="c-1"):
        pass

    (segment,) = tracing_on.segments_before_sentinel()
    assert (segment["trace_id"], segment["parent_id"]) == (ROOT, PARENT)
    assert (segment["name"], segment["origin"]) == (FUNCTION_NAME, "AWS::Lambda::Function")
    assert re.fullmatch(r"[0-9a-f]{16}", segment["id"])
    assert segment["start_time"] <= segment["end_time"]
    assert "fault" not in segment


def test_joined_trace_annotations_keep_only_non_empty_values(tracing_on):
    with tracing.joined_trace(SAMPLED, pledge_id="p-1", payment_id=None, correlation_id="c-1", empty=""):
        pass

    assert tracing_on.segment()["annotations"] == {"pledge_id": "p-1", "correlation_id": "c-1"}


def test_joined_trace_yields_header_naming_its_own_segment_as_parent(tracing_on):
    with tracing.joined_trace(SAMPLED) as downstream:
        pass

    segment = tracing_on.segment()
    assert downstream == f"Root={ROOT};Parent={segment['id']};Sampled=1"


def test_joined_trace_sends_segment_when_the_block_ends(tracing_on):
    # GIVEN a joined trace still open
    with tracing.joined_trace(SAMPLED):
        # THEN nothing is sent while the work runs
        assert tracing_on.segments_before_sentinel() == []
    # AND one segment once it is done
    assert len(tracing_on.segments_before_sentinel()) == 1


def test_joined_trace_header_without_parent_sends_segment_without_parent_id(tracing_on):
    with tracing.joined_trace(f"Root={ROOT};Sampled=1"):
        pass

    segment = tracing_on.segment()
    assert segment["trace_id"] == ROOT
    assert "parent_id" not in segment


@pytest.mark.parametrize("header", [None, "", "not-a-trace-header", "Root=1-abc;Parent=53995c3f42cd8ad8;Sampled=1",
                                    f"Parent={PARENT};Root={ROOT};Sampled=1", f"Root={ROOT};Parent=xyz;Sampled=1"])
def test_joined_trace_missing_or_malformed_header_yields_none_and_sends_nothing(tracing_on, header):
    with tracing.joined_trace(header, pledge_id="p-1") as downstream:
        pass

    assert downstream is None
    assert tracing_on.segments_before_sentinel() == []


def test_joined_trace_unsampled_header_yields_none_and_sends_nothing(tracing_on):
    with tracing.joined_trace(f"Root={ROOT};Parent={PARENT};Sampled=0") as downstream:
        pass

    assert downstream is None
    assert tracing_on.segments_before_sentinel() == []


def test_joined_trace_with_tracer_disabled_yields_none_and_sends_nothing(daemon):
    assert observability.tracer.disabled  # the tests' default

    with tracing.joined_trace(SAMPLED, pledge_id="p-1") as downstream:
        pass

    assert downstream is None
    assert daemon.segments_before_sentinel() == []


def test_joined_trace_exception_inside_marks_segment_fault_and_propagates(tracing_on):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with tracing.joined_trace(SAMPLED, pledge_id="p-1"):
            raise Boom("the record failed")

    (segment,) = tracing_on.segments_before_sentinel()
    assert segment["fault"] is True
    assert segment["trace_id"] == ROOT


def test_joined_trace_daemon_unreachable_never_fails_the_work(monkeypatch):
    # GIVEN tracing on and a daemon address nothing can be sent to
    monkeypatch.setattr(observability.tracer, "disabled", False)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "255.255.255.255:2000")  # sendto: permission denied
    tracing._daemon.cache_clear()
    try:
        # WHEN work runs in a joined trace
        with tracing.joined_trace(SAMPLED) as downstream:
            result = "done"
    finally:
        if tracing._daemon.cache_info().currsize:
            tracing._daemon()[0].close()
        tracing._daemon.cache_clear()

    # THEN the work is not disturbed
    assert (result, downstream.startswith(f"Root={ROOT};Parent=")) == ("done", True)


# ---------------------------------------------------------------------------------------- report_span
def test_report_span_sends_segment_with_given_start_and_end(tracing_on):
    tracing.report_span(SAMPLED, 1_744_202_096.25, 1_744_202_096.75, payment_id="pay-1", correlation_id=None)

    (segment,) = tracing_on.segments_before_sentinel()
    assert (segment["start_time"], segment["end_time"]) == (1_744_202_096.25, 1_744_202_096.75)
    assert (segment["trace_id"], segment["parent_id"]) == (ROOT, PARENT)
    assert segment["annotations"] == {"payment_id": "pay-1"}
    assert "fault" not in segment


@pytest.mark.parametrize("header", [None, "garbage", f"Root={ROOT};Parent={PARENT};Sampled=0"])
def test_report_span_untraced_header_sends_nothing(tracing_on, header):
    tracing.report_span(header, 1.0, 2.0, payment_id="pay-1")

    assert tracing_on.segments_before_sentinel() == []


def test_report_span_with_tracer_disabled_sends_nothing(daemon):
    tracing.report_span(SAMPLED, 1.0, 2.0, payment_id="pay-1")

    assert daemon.segments_before_sentinel() == []


# ---------------------------------------------------------------------------------------- correlation
def test_correlation_sets_logger_correlation_id_inside(restore_correlation_id):
    logger.set_correlation_id("request-1")

    with tracing.correlation("donation-7"):
        inside = logger.get_correlation_id()

    assert inside == "donation-7"


def test_correlation_restores_previous_id_after(restore_correlation_id):
    logger.set_correlation_id("request-1")

    with tracing.correlation("donation-7"):
        pass

    assert logger.get_correlation_id() == "request-1"


def test_correlation_restores_previous_id_after_exception(restore_correlation_id):
    logger.set_correlation_id("request-1")

    with pytest.raises(ValueError):
        with tracing.correlation("donation-7"):
            raise ValueError("record failed")

    assert logger.get_correlation_id() == "request-1"


def test_correlation_none_clears_id_inside_and_restores_after(restore_correlation_id):
    logger.set_correlation_id("request-1")

    with tracing.correlation(None):
        inside = logger.get_correlation_id()

    assert (inside, logger.get_correlation_id()) == (None, "request-1")


def test_correlation_log_lines_inside_carry_the_id(restore_correlation_id, observed):
    logger.set_correlation_id("request-1")

    with tracing.correlation("donation-7"):
        logger.info("inside")
    logger.info("outside")

    assert [line.get("correlation_id") for line in observed.logs()] == ["donation-7", "request-1"]


# ---------------------------------------------------------------------------------------- current_trace_header
def test_current_trace_header_with_tracer_disabled_is_none():
    assert observability.tracer.disabled

    assert tracing.current_trace_header() is None


# ---------------------------------------------------------------------------------------- count (EMF)
def test_count_prints_one_emf_document_with_its_own_dimension_and_service(observed):
    observability.count(name="WebhookEventsRejected", reason="signature")

    documents = observed.documents()
    assert len(documents) == 1
    (metric,) = observed.metrics()
    assert (metric.name, metric.values, metric.unit) == ("WebhookEventsRejected", [1], "Count")
    assert metric.dimensions == {"reason": "signature", "service": os.environ["POWERTOOLS_SERVICE_NAME"]}
    assert metric.namespace == os.environ["POWERTOOLS_METRICS_NAMESPACE"]


def test_count_does_not_touch_the_invocation_metric_set(observed):
    observability.metrics.add_metric(name="PledgesCreated", unit="Count", value=1)

    observability.count(name="WebhookEventsIgnored", reason="stale")

    assert list(observability.metrics.metric_set) == ["PledgesCreated"]
    assert "reason" not in observability.metrics.dimension_set


def test_count_calls_each_print_their_own_dimensions(observed):
    observability.count(name="WebhookEventsIgnored", reason="stale")
    observability.count(name="WebhookEventsIgnored", reason="duplicate")

    assert [m.dimensions["reason"] for m in observed.metrics("WebhookEventsIgnored")] == ["stale", "duplicate"]
