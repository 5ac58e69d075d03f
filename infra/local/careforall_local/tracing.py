"""X-Ray, locally: trace headers, the daemon's UDP collector, and donation timelines.

The runtime plays the Lambda service (it records one `AWS::Lambda::Function` segment per
invocation and hands the worker `Root=<trace>;Parent=<that segment>;Sampled=1`), the gateway plays
API Gateway (an `AWS::ApiGateway::Stage` segment per request), and `XRayDaemon` plays the X-Ray
daemon on 127.0.0.1:$CAREFORALL_XRAY_PORT: the SDK inside each worker (Powertools Tracer) sends its
subsegments there by UDP, as it does to the daemon on AWS. Everything lands in `TraceCollector`,
a bounded in-memory store indexed by trace id and by the annotations `correlation_id`,
`pledge_id` and `payment_id`, from which `build_spans` draws a donation's timeline.

Daemon packet format: `{"format": "json", "version": 1}` + "\\n" + one segment or subsegment document.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Iterable

log = logging.getLogger("careforall.xray")

INDEXED_ANNOTATIONS = ("correlation_id", "pledge_id", "payment_id")
_ROOT = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_SEGMENT_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_PACKET_BYTES = 64 * 1024  # the X-Ray daemon's UDP limit


# ---------------------------------------------------------------------- trace headers
@dataclass(frozen=True)
class TraceHeader:
    """An `X-Amzn-Trace-Id` value: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`."""

    root: str
    parent: str | None = None
    sampled: str | None = None  # "1", "0", "?" or None (not said)

    def __str__(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={self.sampled}")
        return ";".join(parts)

    def child(self, parent: str) -> "TraceHeader":
        """The header to pass downstream of segment `parent` (sampled unless the upstream said 0)."""
        return TraceHeader(self.root, parent, "0" if self.sampled == "0" else "1")


def parse_trace_header(value: str | None) -> TraceHeader | None:
    """The header's Root/Parent/Sampled; None when there is no well-formed Root (then start a new trace)."""
    if not value or not isinstance(value, str):
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, item = part.strip().partition("=")
        if sep:
            fields.setdefault(key.strip().lower(), item.strip())
    root = fields.get("root", "")
    if not _ROOT.match(root):
        return None
    parent = fields.get("parent")
    sampled = fields.get("sampled")
    return TraceHeader(root, parent if parent and _SEGMENT_ID.match(parent) else None,
                       sampled if sampled in ("0", "1", "?") else None)


def new_root(now: float | None = None) -> str:
    """A new trace id: `1-{8 hex digits of epoch seconds}-{24 random hex digits}`."""
    return f"1-{int(time.time() if now is None else now):08x}-{os.urandom(12).hex()}"


def new_segment_id() -> str:
    return os.urandom(8).hex()


def upstream_or_new(value: str | None) -> TraceHeader:
    """The caller's trace when its header names one, else a new sampled trace with no parent."""
    return parse_trace_header(value) or TraceHeader(new_root(), None, "1")


# ---------------------------------------------------------------------- the collector
def _walk(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield document
    for child in document.get("subsegments") or ():
        if isinstance(child, dict):
            yield from _walk(child)


def indexed_annotations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(name, value) of every correlation_id/pledge_id/payment_id annotation in the document or its subsegments."""
    found = set()
    for entity in _walk(document):
        annotations = entity.get("annotations")
        if not isinstance(annotations, dict):
            continue
        for name in INDEXED_ANNOTATIONS:
            value = annotations.get(name)
            if value not in (None, "") and not isinstance(value, (dict, list)):
                found.add((name, str(value)))
    return found


def parse_daemon_packet(data: bytes) -> dict[str, Any] | None:
    """The document of one X-Ray daemon packet (header line, newline, JSON); None for anything else."""
    header, sep, body = data.partition(b"\n")
    if not sep:
        return None
    try:
        meta = json.loads(header)
        if not isinstance(meta, dict) or meta.get("format") != "json":
            return None
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("trace_id"), str) or "id" not in document:
        return None
    return document


class TraceCollector:
    """The last `max_documents` segment documents, by trace id, with an annotation index.

    A trace keeps at most `max_per_trace` documents (later ones are counted in `dropped`); the
    oldest documents overall are forgotten first, and with a trace's last document its index
    entries go too, so memory stays bounded however long the stack runs.
    """

    def __init__(self, max_documents: int = 200_000, max_per_trace: int = 2_000, max_pledges: int = 1_000) -> None:
        self.max_documents = max_documents
        self.max_per_trace = max_per_trace
        self.max_pledges = max_pledges
        self._order: deque[str] = deque()  # trace id of each stored document, oldest first
        self._traces: dict[str, deque[dict[str, Any]]] = {}
        self._trace_keys: dict[str, set[tuple[str, str]]] = {}
        self._index: dict[tuple[str, str], dict[str, None]] = {}  # (annotation, value) -> trace ids, in order
        self._pledges: OrderedDict[str, tuple[str, float]] = OrderedDict()  # pledge id -> (trace id, first seen)
        self.received = 0
        self.rejected = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._order)

    def ingest_packet(self, data: bytes) -> bool:
        document = parse_daemon_packet(data)
        if document is None:
            self.rejected += 1
            return False
        return self.record(document)

    def record(self, document: dict[str, Any]) -> bool:
        self.received += 1
        trace_id = document.get("trace_id")
        if not isinstance(trace_id, str):
            self.rejected += 1
            return False
        documents = self._traces.get(trace_id)
        if documents is None:
            documents = self._traces[trace_id] = deque()
            self._trace_keys[trace_id] = set()
        elif len(documents) >= self.max_per_trace:
            self.dropped += 1
            return False
        documents.append(document)
        self._order.append(trace_id)
        keys = indexed_annotations(document)
        for key in keys - self._trace_keys[trace_id]:
            self._trace_keys[trace_id].add(key)
            self._index.setdefault(key, {})[trace_id] = None
            if key[0] == "pledge_id" and key[1] not in self._pledges:
                self._pledges[key[1]] = (trace_id, time.time())
                while len(self._pledges) > self.max_pledges:
                    self._pledges.popitem(last=False)
        while len(self._order) > self.max_documents:
            self._evict_oldest()
        return True

    def _evict_oldest(self) -> None:
        trace_id = self._order.popleft()
        documents = self._traces[trace_id]
        documents.popleft()  # documents are appended in the same order as _order
        if documents:
            return
        del self._traces[trace_id]
        for key in self._trace_keys.pop(trace_id):
            traces = self._index.get(key)
            if traces is not None:
                traces.pop(trace_id, None)
                if not traces:
                    del self._index[key]

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        return list(self._traces.get(trace_id, ()))

    def has_trace(self, trace_id: str) -> bool:
        return trace_id in self._traces

    def traces_annotated(self, name: str, value: str) -> list[str]:
        return list(self._index.get((name, value), ()))

    def lookup(self, value: str) -> list[str]:
        """Trace ids annotated with `value` as correlation_id, pledge_id or payment_id (or `value` itself)."""
        found: dict[str, None] = {}
        if value in self._traces:
            found[value] = None
        for name in INDEXED_ANNOTATIONS:
            found.update(self._index.get((name, value), {}))
        return list(found)

    def annotations_of(self, trace_id: str) -> set[tuple[str, str]]:
        return set(self._trace_keys.get(trace_id, ()))

    def linked(self, value: str) -> dict[str, list[str]]:
        """Indexed annotations that appear on the same segment or subsegment as `value`, by name
        (`value` itself included under the names it is annotated as): e.g. a payment step annotated
        payment_id=X, correlation_id=C links X to C. Only the same entity counts: a trace can hold a
        batch's work on several donations, whose ids must not be mixed up."""
        found: dict[str, dict[str, None]] = {name: {} for name in INDEXED_ANNOTATIONS}
        for trace_id in self.lookup(value):
            for document in self._traces.get(trace_id, ()):
                for entity in _walk(document):
                    annotations = entity.get("annotations")
                    if not isinstance(annotations, dict) or not any(
                            str(annotations.get(name)) == value for name in INDEXED_ANNOTATIONS
                            if annotations.get(name) is not None):
                        continue
                    for name in INDEXED_ANNOTATIONS:
                        if annotations.get(name) not in (None, "") and not isinstance(annotations[name], (dict, list)):
                            found[name][str(annotations[name])] = None
        return {name: list(values) for name, values in found.items()}

    def recent_pledges(self, limit: int = 20) -> list[tuple[str, str, float]]:
        """(pledge id, trace id, first seen) of the pledges most recently first annotated, newest first."""
        out = []
        for pledge_id in reversed(self._pledges):
            trace_id, seen = self._pledges[pledge_id]
            out.append((pledge_id, trace_id, seen))
            if len(out) >= limit:
                break
        return out


class XRayDaemonProtocol(asyncio.DatagramProtocol):
    """The X-Ray daemon's UDP side: every packet goes to the collector."""

    def __init__(self, collector: TraceCollector) -> None:
        self.collector = collector

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.collector.ingest_packet(data)
        except Exception:  # noqa: BLE001 - a bad packet must never stop the daemon
            log.debug("x-ray packet ignored", exc_info=True)

    def error_received(self, exc: Exception) -> None:
        log.debug("x-ray socket error: %s", exc)


async def start_xray_daemon(collector: TraceCollector, port: int,
                            host: str = "127.0.0.1") -> asyncio.DatagramTransport:
    """Listen for segments on UDP host:port (the daemon address the workers get)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts of segments
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise RuntimeError(f"the X-Ray daemon port {host}:{port}/udp is not free (CAREFORALL_XRAY_PORT): {error}")
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: XRayDaemonProtocol(collector), sock=sock)
    return transport


# ---------------------------------------------------------------------- timelines
def _is_error(entity: dict[str, Any]) -> bool:
    return bool(entity.get("error") or entity.get("fault") or entity.get("throttle"))


def build_spans(documents: Iterable[dict[str, Any]], function_names: dict[str, str] | None = None
                ) -> list[dict[str, Any]]:
    """Segments and their nested subsegments as one flat list of spans, by start time.

    Each span: trace_id, id, parent_id, name, origin, start, end (epoch s), offset_ms (from the
    earliest span), duration_ms, error, annotations, function (the logical id of the Lambda function
    the span ran in, when known: its own segment says so, else a parent does; `function_names` maps
    physical function names to logical ids for segments the functions sent themselves).
    """
    names = function_names or {}
    spans: dict[tuple[str, str], dict[str, Any]] = {}

    def add(entity: dict[str, Any], trace_id: str, parent_id: str | None) -> None:
        span_id = str(entity.get("id", ""))
        start = entity.get("start_time")
        if not span_id or not isinstance(start, (int, float)):
            return
        end = entity.get("end_time")
        end = float(end) if isinstance(end, (int, float)) else None
        aws = entity.get("aws") if isinstance(entity.get("aws"), dict) else {}
        function = aws.get("function_logical_id")
        if function is None and entity.get("origin") == "AWS::Lambda::Function":
            function = names.get(str(entity.get("name")), None)
        span = {
            "trace_id": trace_id, "id": span_id, "parent_id": entity.get("parent_id") or parent_id,
            "name": str(entity.get("name", "")), "origin": entity.get("origin"),
            "start": float(start), "end": end, "offset_ms": 0.0,
            "duration_ms": round((end - float(start)) * 1000, 3) if end is not None else None,
            "error": _is_error(entity),
            "annotations": dict(entity.get("annotations") or {}) if isinstance(entity.get("annotations"), dict) else {},
            "function": function,
        }
        known = spans.get((trace_id, span_id))
        if known is None or (known["end"] is None and end is not None):  # a completed copy wins
            spans[(trace_id, span_id)] = span
        for child in entity.get("subsegments") or ():
            if isinstance(child, dict):
                add(child, trace_id, span_id)

    for document in documents:
        if isinstance(document, dict) and isinstance(document.get("trace_id"), str):
            add(document, document["trace_id"], None)

    def function_of(span: dict[str, Any], depth: int = 0) -> str | None:
        if span["function"] or depth > 50 or not span["parent_id"]:
            return span["function"]
        parent = spans.get((span["trace_id"], span["parent_id"]))
        return function_of(parent, depth + 1) if parent is not None else None

    ordered = sorted(spans.values(), key=lambda s: (s["start"], -(s["end"] or s["start"])))
    for span in ordered:
        span["function"] = function_of(span)
    if ordered:
        origin = ordered[0]["start"]
        for span in ordered:
            span["offset_ms"] = round((span["start"] - origin) * 1000, 3)
    return ordered
