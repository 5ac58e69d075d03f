"""The local stack's ops page: what a person checks at a glance, and where one donation is.

GET /_local/ops                    the page (self-contained HTML; `?donation=<key>` opens a timeline)
GET /_local/ops/data               its JSON: ready, healthy, problems, functions, event_sources, streams,
                                   queues, metrics, recent_donations, websocket_connections
GET /_local/ops/donations/{key}    one donation's timeline: key = pledge id, payment id, correlation id
                                   or trace id; 404 problem+json when nothing is known of it

Functions, traces, metrics and logs come from memory (telemetry.py, tracing.py); queue depths
(GetQueueAttributes) and pledge statuses (BatchGetItem/GetItem on the pledges table, when the
template has one) are read from the emulator in a thread, each cached for about a second.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from decimal import Decimal
from typing import Any, Callable

from aiohttp import web

from careforall_local.ops_page import OPS_PAGE
from careforall_local.runtime import FunctionRuntime
from careforall_local.stack import REGION, QueueSpec
from careforall_local.telemetry import Telemetry
from careforall_local.tracing import INDEXED_ANNOTATIONS, build_spans, parse_trace_header

CACHE_SECONDS = 1.0
RECENT_DONATIONS = 20
MAX_TRACES_PER_DONATION = 50
PLEDGES_TABLE_LOGICAL_ID = "PledgesTable"
_dumps = functools.partial(json.dumps, default=str)  # pledge items carry Decimals
_PLEDGE_FIELDS = ("id", "campaign_id", "amount_cents", "currency", "status", "payment", "correlation_id",
                  "trace_header", "created_at", "updated_at")


def _pledge_key(pledge_id: str) -> dict[str, Any]:
    """The pledges table's key (functions/pledges/pledges_service/dal.py): pk = "PLEDGE#<id>"."""
    return {"pk": {"S": f"PLEDGE#{pledge_id}"}}


def _amount(cents: Any) -> str | None:
    try:
        return str((Decimal(int(cents)) / 100).quantize(Decimal("0.01")))
    except (TypeError, ValueError, ArithmeticError):
        return None


def pledge_view(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """A pledge item (plain values) as the ops page shows it."""
    if not item:
        return None
    payment = item.get("payment") if isinstance(item.get("payment"), dict) else None
    return {"pledge_id": item.get("id"), "campaign_id": item.get("campaign_id"),
            "amount": _amount(item.get("amount_cents")), "currency": item.get("currency"),
            "status": item.get("status"), "payment": payment, "correlation_id": item.get("correlation_id"),
            "trace_header": item.get("trace_header"), "created_at": item.get("created_at"),
            "updated_at": item.get("updated_at")}


def mark_related(spans: list[dict[str, Any]], ids: dict[str, Any]) -> None:
    """Sets `related` on the spans of the donation (`ids`: annotation name -> its values) and `foreign` on
    those of other donations: a trace can hold a batch's work on several donations (the first message's
    trace, as Lambda joins it), which the page then sets apart.

    A span annotated with an id is the donation's or not by that id; an unannotated one by what its
    subtree holds (the donation's work below it, else other donations' only), else like its parent.
    """
    by_key = {(s["trace_id"], s["id"]): s for s in spans}
    children: dict[tuple[str, str], list[tuple[str, str]]] = {}
    roots = []
    for key, span in by_key.items():
        parent = (span["trace_id"], span["parent_id"]) if span["parent_id"] else None
        if parent in by_key and parent != key:
            children.setdefault(parent, []).append(key)
        else:
            roots.append(key)

    def own(span: dict[str, Any]) -> str | None:
        values = [(name, str(span["annotations"][name])) for name in INDEXED_ANNOTATIONS
                  if span["annotations"].get(name) not in (None, "")]
        if any(value in ids.get(name, ()) for name, value in values):
            return "mine"
        return "other" if values else None

    below: dict[tuple[str, str], set[str]] = {}  # what a subtree holds: {"mine", "other"}
    order: list[tuple[str, str]] = []
    stack, seen = list(roots), set(roots)
    while stack:  # pre-order, iteratively (no recursion limit on deep traces)
        key = stack.pop()
        order.append(key)
        for child in children.get(key, ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    for key in reversed(order):
        held = {own(by_key[key])} - {None}
        for child in children.get(key, ()):
            held |= below.get(child, set())
        below[key] = held
    resolved: dict[tuple[str, str], str | None] = {}
    for key in order:
        span = by_key[key]
        kind = own(span)
        if kind is None:
            held = below.get(key, set())
            parent = (span["trace_id"], span["parent_id"]) if span["parent_id"] else None
            kind = "mine" if "mine" in held else "other" if held else resolved.get(parent)
        resolved[key] = kind
    for key, span in by_key.items():
        span["related"] = resolved.get(key) == "mine"
        span["foreign"] = resolved.get(key) == "other"


class _Cached:
    """One value refreshed at most every `seconds`, by one caller at a time."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._lock = asyncio.Lock()
        self._value: Any = None
        self._key: Any = None
        self._expires = 0.0

    async def get(self, key: Any, load: Callable[[], Any]) -> Any:
        async with self._lock:
            if self._key != key or time.monotonic() >= self._expires:
                self._value = await asyncio.to_thread(load)
                self._key, self._expires = key, time.monotonic() + self.seconds
            return self._value


class OpsService:
    def __init__(self, runtime: FunctionRuntime, telemetry: Telemetry, queues: list[QueueSpec],
                 pledges_table: str | None, aws_endpoint: str) -> None:
        self.runtime = runtime
        self.telemetry = telemetry
        self.queues = queues
        self.pledges_table = pledges_table
        self.aws_endpoint = aws_endpoint
        self.pollers = None  # EventSourcePollers, once started
        self.websocket = None  # WebSocketGateway, if the template has one
        self.ready: Callable[[], bool] = lambda: False
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._queue_depths = _Cached()
        self._pledges = _Cached()

    # ------------------------------------------------------------------ emulator reads (threads)
    def _client(self, service: str):
        with self._clients_lock:
            if service not in self._clients:
                import boto3

                session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                        region_name=REGION)
                self._clients[service] = session.client(service, endpoint_url=self.aws_endpoint)
            return self._clients[service]

    def _read_queue_depths(self) -> dict[str, dict[str, int] | str]:
        sqs, depths = self._client("sqs"), {}
        for queue in self.queues:
            try:
                attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed"])["Attributes"]
                depths[queue.logical_id] = {k: int(attributes.get(k, 0)) for k in (
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed")}
            except Exception as error:  # noqa: BLE001 - one unreadable queue must not blank the page
                depths[queue.logical_id] = f"{type(error).__name__}: {error}"
        return depths

    def _read_pledges(self, pledge_ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """One BatchGetItem (at most 100 keys; the page asks for 20)."""
        if not pledge_ids or not self.pledges_table:
            return {}
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        names = {f"#f{i}": name for i, name in enumerate(_PLEDGE_FIELDS)}
        response = self._client("dynamodb").batch_get_item(RequestItems={self.pledges_table: {
            "Keys": [_pledge_key(p) for p in dict.fromkeys(pledge_ids)][:100],
            "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}})
        items = response.get("Responses", {}).get(self.pledges_table, [])
        plain = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]
        return {item["id"]: item for item in plain if "id" in item}

    def _read_pledge(self, pledge_id: str) -> dict[str, Any] | None:
        if not self.pledges_table:
            return None
        return self._read_pledges((pledge_id,)).get(pledge_id)

    # ------------------------------------------------------------------ the page's data
    async def queue_rows(self) -> list[dict[str, Any]]:
        depths = await self._queue_depths.get("all", self._read_queue_depths)
        rows = []
        for queue in self.queues:
            depth = depths.get(queue.logical_id)
            readable = isinstance(depth, dict)
            visible = depth["ApproximateNumberOfMessages"] if readable else None
            in_flight = depth["ApproximateNumberOfMessagesNotVisible"] if readable else None
            delayed = depth["ApproximateNumberOfMessagesDelayed"] if readable else None
            kind = ("dead-letter" if queue.dead_letter_for else "failure-destination"
                    if queue.failure_destination_for else "source" if queue.feeds else "queue")
            total = (visible or 0) + (in_flight or 0) + (delayed or 0)
            rows.append({"name": queue.logical_id, "queue_name": queue.name, "kind": kind,
                         "failure_queue": queue.is_failure_queue, "dead_letter_for": list(queue.dead_letter_for),
                         "failure_destination_for": list(queue.failure_destination_for), "feeds": list(queue.feeds),
                         "visible": visible, "in_flight": in_flight, "delayed": delayed,
                         "alarm": queue.is_failure_queue and total > 0,
                         "error": None if readable else depth})
        return rows

    async def recent_donations(self) -> list[dict[str, Any]]:
        recent = self.telemetry.traces.recent_pledges(RECENT_DONATIONS)
        ids = tuple(pledge_id for pledge_id, _, _ in recent)
        try:
            items = await self._pledges.get(ids, lambda: self._read_pledges(ids)) if ids else {}
        except Exception:  # noqa: BLE001 - the emulator may be busy or gone; show what the traces know
            items = {}
        rows = []
        for pledge_id, trace_id, seen in recent:
            view = pledge_view(items.get(pledge_id)) or {"pledge_id": pledge_id}
            rows.append({**view, "pledge_id": pledge_id, "trace_id": trace_id, "seen_at": seen,
                         "payment_state": (view.get("payment") or {}).get("state"),
                         "timeline": f"/_local/ops?donation={pledge_id}"})
        return rows

    async def data(self) -> dict[str, Any]:
        now = time.time()
        functions = self.runtime.stats()
        streams = [d for d in (self.pollers.details() if self.pollers else []) if d["kind"] == "dynamodb"]
        try:
            queues = await self.queue_rows()
        except Exception as error:  # noqa: BLE001
            queues = [{"name": q.logical_id, "error": str(error)} for q in self.queues]
        problems = []
        for queue in queues:
            if queue.get("alarm"):
                problems.append(f"{queue['name']} holds {(queue['visible'] or 0) + (queue['in_flight'] or 0)}"
                                f" message(s) ({queue['kind']})")
        for name, stats in functions.items():
            if stats.get("errors_last_minute"):
                problems.append(f"{name}: {stats['errors_last_minute']} error(s) in the last minute")
        for stream in streams:
            if stream.get("lagging"):
                problems.append(f"{stream['mapping']} is {stream['lag_seconds']:.0f} s behind its stream")
        return {
            "ready": self.ready(),
            "healthy": not problems,
            "problems": problems,
            "generated_at": now,
            "functions": functions,
            "event_sources": self.pollers.stats() if self.pollers else {},
            "streams": streams,
            "queues": queues,
            "metrics": self.telemetry.metrics.summaries(),
            "recent_donations": await self.recent_donations(),
            "websocket_connections": len(self.websocket.connections) if self.websocket else 0,
            "traces": {"documents": len(self.telemetry.traces), "received": self.telemetry.traces.received,
                       "rejected": self.telemetry.traces.rejected, "dropped": self.telemetry.traces.dropped},
        }

    # ------------------------------------------------------------------ one donation
    async def donation(self, key: str) -> dict[str, Any] | None:
        """The donation `key` names (pledge id, payment id, correlation id or trace id): its pledge, the traces
        annotated with any of its ids, their spans, and the log lines of its correlation id(s)."""
        traces = self.telemetry.traces
        ids = {name: dict.fromkeys(values) for name, values in traces.linked(key).items()}
        if not ids["pledge_id"] and ids["correlation_id"]:
            # e.g. a payment step (payment_id, correlation_id): the correlation id leads to the pledge, if to one only
            via = {p for cid in ids["correlation_id"] for p in traces.linked(cid)["pledge_id"]}
            if len(via) == 1:
                ids["pledge_id"].update(dict.fromkeys(via))
        pledge_id = key if key in ids["pledge_id"] else next(iter(ids["pledge_id"]), key)
        try:
            item = await asyncio.to_thread(self._read_pledge, pledge_id)
        except Exception:  # noqa: BLE001 - show the traces even when the table cannot be read
            item = None
        pledge = pledge_view(item)
        stored_root = None
        if pledge:
            ids["pledge_id"][pledge_id] = None
            if pledge.get("correlation_id"):
                ids["correlation_id"][pledge["correlation_id"]] = None
            if (pledge.get("payment") or {}).get("id"):
                ids["payment_id"][pledge["payment"]["id"]] = None
            stored = parse_trace_header(pledge.get("trace_header"))
            stored_root = stored.root if stored else None
        trace_ids: dict[str, None] = dict.fromkeys(traces.lookup(key))
        for name in INDEXED_ANNOTATIONS:
            for value in ids[name]:
                trace_ids.update(dict.fromkeys(traces.traces_annotated(name, value)))
        if stored_root and traces.has_trace(stored_root):
            trace_ids[stored_root] = None
        trace_list = list(trace_ids)[:MAX_TRACES_PER_DONATION]
        correlation_ids = list(ids["correlation_id"])
        if key not in correlation_ids and self.telemetry.logs.lines(key):
            correlation_ids.append(key)
        logs = [{"time": line["time"], "function": line["function"], "level": line["level"],
                 "message": line["message"], "correlation_id": line["record"].get("correlation_id"),
                 "record": line["record"]}
                for line in self.telemetry.logs.lines(*correlation_ids)]
        if not trace_list and not logs and pledge is None:
            return None
        documents = [doc for trace_id in trace_list for doc in traces.trace(trace_id)]
        spans = build_spans(documents, self.runtime.function_names())
        mark_related(spans, {**ids, "correlation_id": dict.fromkeys(correlation_ids)})
        return {"key": key, "pledge_id": pledge["pledge_id"] if pledge else next(iter(ids["pledge_id"]), None),
                "payment_ids": list(ids["payment_id"]), "correlation_ids": correlation_ids,
                "trace_ids": trace_list, "pledge": pledge, "spans": spans, "logs": logs}

    async def page(self, _: web.Request) -> web.Response:
        return web.Response(text=OPS_PAGE, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def data_json(self, _: web.Request) -> web.Response:
        return web.json_response(await self.data(), headers={"Cache-Control": "no-store"}, dumps=_dumps)

    async def donation_json(self, request: web.Request) -> web.Response:
        key = request.match_info["key"].strip()
        found = await self.donation(key) if key else None
        if found is None:
            return web.json_response({
                "type": "https://careforall.org/problems/not-found", "title": "Not Found", "status": 404,
                "detail": f"Nothing is known locally of {key!r}: no trace annotated with it (pledge_id, payment_id,"
                          " correlation_id), no log line, no pledge."},
                status=404, content_type="application/problem+json")
        return web.json_response(found, headers={"Cache-Control": "no-store"}, dumps=_dumps)
