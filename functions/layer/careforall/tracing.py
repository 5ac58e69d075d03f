"""Correlation ids and X-Ray trace headers that follow a donation across asynchronous hops.

X-Ray joins API Gateway, Lambda, SQS, Step Functions and Lambda-to-Lambda calls by itself, but a
DynamoDB stream carries no trace header: the pledge (and the payment) therefore store the trace
header they were written under, and a function that handles their stream records reports its work
on each record as a segment of that stored trace (`joined_trace`). One trace then follows a
donation from the API call to its receipt, and the correlation id names it in every log line.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from contextlib import contextmanager
from functools import cache
from typing import Iterator

from careforall.observability import logger, tracer

_TRACE_HEADER = re.compile(r"Root=(?P<root>1-[0-9a-f]{8}-[0-9a-f]{24})(?:;Parent=(?P<parent>[0-9a-f]{16}))?"
                           r"(?:;Sampled=(?P<sampled>[01?]))?")
_DAEMON_HEADER = json.dumps({"format": "json", "version": 1}) + "\n"


def current_trace_header() -> str | None:
    """`Root=...;Parent=<the current (sub)segment>;Sampled=1`, or None when nothing is being traced."""
    if tracer.disabled:
        return None
    from aws_xray_sdk.core import xray_recorder

    entity = xray_recorder.get_trace_entity()
    trace_id = getattr(entity, "trace_id", None)
    if not trace_id or not getattr(entity, "sampled", False):
        return None
    return f"Root={trace_id};Parent={entity.id};Sampled=1"


def annotate(**values: str | None) -> None:
    """Searchable X-Ray annotations (correlation_id, pledge_id, payment_id) on the current subsegment."""
    if tracer.disabled:
        return
    for key, value in values.items():
        if value:
            tracer.put_annotation(key=key, value=value)


@contextmanager
def correlation(correlation_id: str | None) -> Iterator[None]:
    """Every log line inside carries `correlation_id`; the previous one is back afterwards.

    Batch handlers use it per record, so each line names the donation it is about.
    """
    previous = logger.get_correlation_id()
    logger.set_correlation_id(correlation_id)
    try:
        yield
    finally:
        logger.set_correlation_id(previous)


@contextmanager
def joined_trace(trace_header: str | None, **annotations: str | None) -> Iterator[str | None]:
    """Report the work inside as a segment of the trace `trace_header` names (a stored one).

    Yields the header to pass downstream (e.g. SQS AWSTraceHeader), so the next hop joins the same
    trace; None (and nothing is sent) when tracing is off or the header is missing or unsampled.
    """
    match = _traced(trace_header)
    if match is None:
        yield None
        return
    segment_id = os.urandom(8).hex()
    started, failed = time.time(), False
    try:
        yield f"Root={match['root']};Parent={segment_id};Sampled=1"
    except BaseException:
        failed = True
        raise
    finally:
        _send_segment(_segment(match, segment_id, started, time.time(), failed, annotations))


def report_span(trace_header: str | None, started: float, ended: float, **annotations: str | None) -> None:
    """Report work already done (e.g. one batch write covering many donations) in a stored trace."""
    match = _traced(trace_header)
    if match is not None:
        _send_segment(_segment(match, os.urandom(8).hex(), started, ended, False, annotations))


def _traced(trace_header: str | None) -> re.Match | None:
    if tracer.disabled:
        return None
    match = _TRACE_HEADER.fullmatch(trace_header or "")
    return None if match is None or match["sampled"] == "0" else match


def _segment(match: re.Match, segment_id: str, started: float, ended: float, failed: bool,
             annotations: dict[str, str | None]) -> dict:
    return {"name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "careforall"), "id": segment_id,
            "trace_id": match["root"], **({"parent_id": match["parent"]} if match["parent"] else {}),
            "start_time": started, "end_time": ended, "origin": "AWS::Lambda::Function",
            "annotations": {k: v for k, v in annotations.items() if v}, **({"fault": True} if failed else {}),
            "metadata": {"careforall": {"joined_from": "a stored trace header (stream record)"}}}


@cache
def _daemon() -> tuple[socket.socket, tuple[str, int]]:
    from aws_xray_sdk.core.daemon_config import DaemonConfig

    config = DaemonConfig(os.environ.get("AWS_XRAY_DAEMON_ADDRESS"))
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM), (config.udp_ip, config.udp_port)


def _send_segment(document: dict) -> None:
    """Segments go to the X-Ray daemon over UDP, as the SDK sends its own; tracing never fails a request."""
    try:
        sock, address = _daemon()
        sock.sendto((_DAEMON_HEADER + json.dumps(document, default=str)).encode(), address)
    except OSError as error:
        logger.debug("trace segment not sent", extra={"error": str(error)})
