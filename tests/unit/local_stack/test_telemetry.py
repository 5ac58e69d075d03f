"""telemetry.py: EMF metrics and correlated log lines from function output, and function stats."""

from __future__ import annotations

import json

from careforall_local.telemetry import FunctionStats, LogIndex, MetricsStore, Telemetry, percentile


def emf(**values) -> dict:
    """An EMF document as Powertools Metrics prints it."""
    return {"_aws": {"Timestamp": 1_700_000_000_000, "CloudWatchMetrics": [{
        "Namespace": "CareForAll", "Dimensions": [["service", "reason"]],
        "Metrics": [{"Name": name, "Unit": "Count"} for name in values]}]},
        "service": "payments", "reason": "stale", **values}


def line(document: dict) -> str:
    return json.dumps(document) + "\n"


def test_observe_emf_line_records_each_value_with_its_dimensions():
    telemetry = Telemetry()

    telemetry.observe_line("PaymentsFunction", line(emf(WebhookEventsIgnored=[1.0, 2.0], PaymentsStuck=3)))

    by_name = {m["name"]: m for m in telemetry.metrics.summaries()}
    assert by_name["WebhookEventsIgnored"]["dimensions"] == {"service": "payments", "reason": "stale"}
    assert (by_name["WebhookEventsIgnored"]["count"], by_name["WebhookEventsIgnored"]["sum"]) == (2, 3.0)
    assert (by_name["PaymentsStuck"]["count"], by_name["PaymentsStuck"]["sum"]) == (1, 3.0)
    assert by_name["PaymentsStuck"]["namespace"] == "CareForAll" and by_name["PaymentsStuck"]["unit"] == "Count"


def test_observe_emf_lines_with_different_dimension_values_keep_separate_series():
    store = MetricsStore()
    store.record_emf({**emf(Rejected=1), "reason": "signature"})
    store.record_emf({**emf(Rejected=1), "reason": "malformed"})
    store.record_emf({**emf(Rejected=1), "reason": "malformed"})

    counts = {m["dimensions"]["reason"]: m["count"] for m in store.summaries()}
    assert counts == {"signature": 1, "malformed": 2}


def test_observe_non_json_lines_records_nothing():
    telemetry = Telemetry()
    for text in ("START RequestId: 1\n", "Traceback (most recent call last):\n", "{not json\n", "[1, 2]\n", "\n"):
        telemetry.observe_line("Fn", text)

    assert telemetry.metrics.summaries() == [] and len(telemetry.logs) == 0


def test_observe_json_line_with_correlation_id_is_indexed_by_it():
    telemetry = Telemetry()
    record = {"level": "INFO", "message": "pledge created", "timestamp": "2026-11-25 10:00:00,250+0000",
              "correlation_id": "corr-1", "pledge_id": "p-1"}

    telemetry.observe_line("PledgesFunction", line(record))
    telemetry.observe_line("PledgesFunction", line({"level": "INFO", "message": "no correlation"}))

    [found] = telemetry.logs.lines("corr-1")
    assert (found["function"], found["level"], found["message"]) == ("PledgesFunction", "INFO", "pledge created")
    assert found["record"] == record
    assert found["time"] == 1795600800.25  # Powertools' timestamp, parsed


def test_log_index_lines_of_several_ids_sorted_by_time():
    logs = LogIndex()
    logs.add("B", {"correlation_id": "b", "message": "second", "timestamp": 20})
    logs.add("A", {"correlation_id": "a", "message": "first", "timestamp": 10})

    assert [entry["message"] for entry in logs.lines("b", "a")] == ["first", "second"]


def test_log_index_past_max_lines_forgets_oldest():
    logs = LogIndex(max_lines=2)
    for i in range(3):
        logs.add("F", {"correlation_id": f"c-{i}", "message": str(i)})

    assert logs.lines("c-0") == [] and len(logs) == 2


def test_function_stats_records_errors_cold_starts_and_duration_percentiles():
    stats = FunctionStats()
    for duration in range(1, 101):
        stats.record(True, float(duration), cold_start=duration == 1, error=None, now=1000.0)
    stats.record(False, 5.0, False, {"errorType": "ValueError", "errorMessage": "bad"}, now=1000.0)

    snapshot = stats.snapshot(now=1030.0)
    assert (stats.invocations, stats.cold_starts) == (101, 1)
    assert snapshot["errors"] == 1 and snapshot["errors_last_minute"] == 1
    assert snapshot["p50_ms"] == 50.0 and snapshot["p99_ms"] == 99.0
    assert snapshot["last_error"]["type"] == "ValueError"


def test_function_stats_total_ms_sums_every_invocation_beyond_the_window():
    stats = FunctionStats(window=2)
    for duration in (10.0, 20.0, 30.5):
        stats.record(True, duration, cold_start=False, error=None, now=1000.0)

    assert stats.snapshot(now=1000.0)["total_ms"] == 60.5


def test_function_stats_error_older_than_a_minute_not_counted_as_recent():
    stats = FunctionStats()
    stats.record(False, 1.0, False, {"errorType": "X"}, now=1000.0)

    assert stats.snapshot(now=1061.0)["errors_last_minute"] == 0


def test_percentile_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0], 0.99) == 2.0
