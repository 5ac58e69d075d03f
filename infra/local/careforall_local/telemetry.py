"""What CloudWatch and X-Ray would collect, kept in memory by the local stack for its ops page.

- `MetricsStore`: CloudWatch embedded metric format (EMF) documents the functions print (Powertools
  Metrics), per (namespace, metric, dimensions): count, sum and recent values for percentiles.
- `LogIndex`: structured log lines (Powertools Logger JSON) that carry a `correlation_id`, by it.
- `FunctionStats`: per function invocations, errors, cold starts, duration percentiles, last error.
- `Telemetry`: the three of them and the trace collector, fed by the runtime: every line a worker
  writes goes through `observe_line` (cheap: only lines starting with `{` are parsed).

Everything is bounded: a long-running stack keeps the most recent data only.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careforall_local.tracing import TraceCollector

ERROR_WINDOW_SECONDS = 60


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


# ---------------------------------------------------------------------- EMF metrics
@dataclass
class MetricSeries:
    namespace: str
    name: str
    unit: str
    dimensions: dict[str, str]
    count: int = 0
    total: float = 0.0
    last: float | None = None
    last_at: float | None = None
    recent: deque = field(default_factory=lambda: deque(maxlen=1_000))

    def add(self, value: float, at: float) -> None:
        self.count += 1
        self.total += value
        self.last, self.last_at = value, at
        self.recent.append(value)

    def summary(self) -> dict[str, Any]:
        recent = list(self.recent)
        return {"namespace": self.namespace, "name": self.name, "unit": self.unit, "dimensions": self.dimensions,
                "count": self.count, "sum": self.total, "avg": self.total / self.count if self.count else None,
                "p50": percentile(recent, 0.5), "p99": percentile(recent, 0.99), "last": self.last,
                "last_at": self.last_at}


class MetricsStore:
    def __init__(self, max_series: int = 2_000) -> None:
        self.max_series = max_series
        self.series: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricSeries] = {}
        self.dropped = 0

    def record_emf(self, document: dict[str, Any], now: float | None = None) -> int:
        """Records every metric value of one EMF document; returns how many values were recorded."""
        meta = document.get("_aws")
        if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
            return 0
        at = meta.get("Timestamp")
        at = at / 1000 if isinstance(at, (int, float)) else (time.time() if now is None else now)
        recorded = 0
        for directive in meta["CloudWatchMetrics"]:
            if not isinstance(directive, dict):
                continue
            namespace = str(directive.get("Namespace", ""))
            dimension_sets = directive.get("Dimensions") or [[]]
            for metric in directive.get("Metrics") or ():
                if not isinstance(metric, dict) or "Name" not in metric:
                    continue
                name = str(metric["Name"])
                raw = document.get(name)
                values = raw if isinstance(raw, list) else [raw]
                numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
                for dimension_set in dimension_sets:
                    if not isinstance(dimension_set, list):
                        continue
                    dimensions = tuple((str(k), str(document.get(k, ""))) for k in dimension_set)
                    series = self._series(namespace, name, str(metric.get("Unit", "None")), dimensions)
                    if series is None:
                        continue
                    for number in numbers:
                        series.add(number, at)
                        recorded += 1
        return recorded

    def _series(self, namespace: str, name: str, unit: str,
                dimensions: tuple[tuple[str, str], ...]) -> MetricSeries | None:
        key = (namespace, name, dimensions)
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= self.max_series:
                self.dropped += 1
                return None
            series = self.series[key] = MetricSeries(namespace, name, unit, dict(dimensions))
        return series

    def summaries(self) -> list[dict[str, Any]]:
        return [s.summary() for _, s in sorted(self.series.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))]


# ---------------------------------------------------------------------- structured logs
def _log_time(value: Any, fallback: float) -> float:
    """Powertools' `timestamp` ("2026-11-25 10:00:00,123+0000"), ISO 8601 or epoch ms; else `fallback`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value / 1000 if value > 1e11 else float(value)
    if isinstance(value, str):
        text = value.replace(",", ".", 1)
        for pattern in ("%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z"):
            try:
                return datetime.strptime(text, pattern).timestamp()
            except ValueError:
                pass
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return fallback


class LogIndex:
    """The last `max_lines` log lines that carry a correlation id, by correlation id."""

    def __init__(self, max_lines: int = 100_000) -> None:
        self.max_lines = max_lines
        self._order: deque[str] = deque()
        self._by_id: dict[str, deque[dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def add(self, function: str, record: dict[str, Any], now: float | None = None) -> bool:
        correlation_id = record.get("correlation_id")
        if not isinstance(correlation_id, str) or not correlation_id:
            return False
        received = time.time() if now is None else now
        entry = {"function": function, "time": _log_time(record.get("timestamp"), received),
                 "level": record.get("level"), "message": record.get("message"), "record": record}
        self._by_id.setdefault(correlation_id, deque()).append(entry)
        self._order.append(correlation_id)
        while len(self._order) > self.max_lines:
            oldest = self._order.popleft()
            lines = self._by_id[oldest]
            lines.popleft()
            if not lines:
                del self._by_id[oldest]
        return True

    def lines(self, *correlation_ids: str) -> list[dict[str, Any]]:
        """Every kept line of these correlation ids, by time."""
        found = [line for cid in dict.fromkeys(correlation_ids) for line in self._by_id.get(cid, ())]
        return sorted(found, key=lambda line: line["time"])


# ---------------------------------------------------------------------- function stats
@dataclass
class FunctionStats:
    window: int = 2_000
    invocations: int = 0
    errors: int = 0
    cold_starts: int = 0
    total_ms: float = 0.0  # every invocation's, so a reader can take the mean over a window of its own (make bench)
    last_error: dict[str, Any] | None = None
    durations: deque = field(default_factory=deque)
    error_times: deque = field(default_factory=lambda: deque(maxlen=10_000))

    def __post_init__(self) -> None:
        self.durations = deque(maxlen=self.window)

    def record(self, ok: bool, duration_ms: float, cold_start: bool, error: dict[str, Any] | None,
               now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.invocations += 1
        self.total_ms += duration_ms
        self.durations.append(duration_ms)
        if cold_start:
            self.cold_starts += 1
        if not ok:
            self.errors += 1
            self.error_times.append(now)
            error = error if isinstance(error, dict) else {}
            self.last_error = {"type": error.get("errorType"), "message": str(error.get("errorMessage", ""))[:500],
                               "at": now}

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        durations = list(self.durations)
        recent = sum(1 for at in self.error_times if now - at <= ERROR_WINDOW_SECONDS)
        p50, p99 = percentile(durations, 0.5), percentile(durations, 0.99)
        return {"errors": self.errors, "errors_last_minute": recent,
                "p50_ms": round(p50, 1) if p50 is not None else None,
                "p99_ms": round(p99, 1) if p99 is not None else None, "total_ms": round(self.total_ms, 1),
                "last_error": self.last_error}


class Telemetry:
    """Traces, metrics, logs and function stats of one local stack."""

    def __init__(self, traces: TraceCollector | None = None, metrics: MetricsStore | None = None,
                 logs: LogIndex | None = None) -> None:
        self.traces = traces or TraceCollector()
        self.metrics = metrics or MetricsStore()
        self.logs = logs or LogIndex()
        self.functions: dict[str, FunctionStats] = {}

    def observe_line(self, function: str, line: str) -> None:
        """One line a function wrote (stdout/stderr): EMF metrics and correlated log lines are kept."""
        text = line.strip()
        if not text.startswith("{"):
            return
        try:
            document = json.loads(text)
        except ValueError:
            return
        if not isinstance(document, dict):
            return
        if "_aws" in document:
            self.metrics.record_emf(document)
        if "correlation_id" in document:
            self.logs.add(function, document)

    def function(self, logical_id: str) -> FunctionStats:
        stats = self.functions.get(logical_id)
        if stats is None:
            stats = self.functions[logical_id] = FunctionStats()
        return stats
