"""make bench's own arithmetic: the load client's counting and percentiles, the targets and the table.

The bench itself runs against the real local stack (make bench); these keep its numbers honest."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from scripts import bench


@pytest.fixture
def server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1: /ok and /health answer 200, /created 201 on POST, /flaky 500 on every third
    request."""
    calls = {"flaky": 0}

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def created(_: web.Request) -> web.Response:
        return web.Response(status=201, text="{}")

    async def flaky(_: web.Request) -> web.Response:
        calls["flaky"] += 1
        return web.Response(status=500 if calls["flaky"] % 3 == 0 else 200)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/health", ok)
    app.router.add_post("/created", created)
    app.router.add_get("/flaky", flaky)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def test_percentile_of_sorted_values_picks_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]

    assert (bench.percentile(values, 0.5), bench.percentile(values, 0.99)) == (51.0, 99.0)


def test_percentile_of_nothing_is_nan() -> None:
    assert bench.percentile([], 0.5) != bench.percentile([], 0.5)


def test_run_level_all_answers_expected_counts_no_errors(server: str) -> None:
    scenario = bench.Scenario("ok", "GET", "/ok", 200)

    result = asyncio.run(bench.run_level(server, scenario, concurrency=4, seconds=0.3, warmup=0.1))

    assert result.requests > 0
    assert result.statuses == {"200": result.requests}
    assert result.error_rate == 0
    assert result.p50_ms <= result.p95_ms <= result.p99_ms


def test_run_level_unexpected_statuses_count_as_errors(server: str) -> None:
    scenario = bench.Scenario("flaky", "GET", "/flaky", 200)

    result = asyncio.run(bench.run_level(server, scenario, concurrency=1, seconds=0.3, warmup=0))

    assert result.statuses["500"] == result.requests - result.statuses["200"] > 0
    assert result.error_rate == pytest.approx(result.statuses["500"] / result.requests, abs=1e-4)


def test_run_level_post_sends_each_request_its_own_headers(server: str) -> None:
    keys: list[str] = []

    def headers() -> dict[str, str]:
        keys.append(f"key-{len(keys)}")
        return {"Idempotency-Key": keys[-1]}

    scenario = bench.Scenario("create", "POST", "/created", 201, body=lambda: b"{}", headers=headers)

    result = asyncio.run(bench.run_level(server, scenario, concurrency=2, seconds=0.2, warmup=0))

    assert result.statuses == {"201": result.requests}
    assert len(set(keys)) == len(keys) >= result.requests


def test_run_level_unreachable_server_reports_connection_errors() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    scenario = bench.Scenario("down", "GET", "/ok", 200)

    result = asyncio.run(bench.run_level(closed, scenario, concurrency=1, seconds=0.1, warmup=0))

    assert result.error_rate == 1
    assert "200" not in result.statuses


def report(create: float, totals: float, per_batch: float, cold_import: float = 1.2) -> bench.BenchReport:
    accounting = bench.DonationAccounting(
        pledges=10, completed=10, seconds_to_settle=1.0, writes_per_donation=12.0, rejected_writes_per_donation=0.0,
        transactional_writes_per_donation=4.0, writes_per_donation_by_table={"PledgesTable": 3.0},
        provider_writes_per_donation=2.0, totals_item_writes=4, totals_item_writes_per_pledge=0.4,
        aggregator_batches=4, totals_item_writes_per_batch=per_batch, write_units_per_donation=16.0,
        write_units_per_donation_by_table={"PledgesTable": 6.0, "PaymentsTable": 10.0},
        state_transitions_per_workflow=10.0,
        invocations_per_donation={"PledgesFunction": 1.0, "PaymentTaskFunction": 4.0, "SandboxProviderFunction": 2.0},
        function_p50_ms={"PledgesFunction": 5.0, "PaymentTaskFunction": 100.0},
        function_p99_ms={"PledgesFunction": 9.0})
    timing = {"handler_ms": 1.0, "bare_ms": 1.0}
    load = [bench.LevelResult("campaign read", 1, 10, 1.0, 10.0, 4.0, 5.0, 6.0, 0.0, {"200": 10})]
    return bench.BenchReport(
        started_at="2026-11-25T00:00:00Z", load=load, machine={"cpu": "test", "cores": 2, "python": "3.11"}, donations=accounting,
        imports={"boto3_ms": 100.0, "functions": {"PledgesFunction": {
            "module": "m", "ms": cold_import * 100, "ratio_to_boto3": cold_import,
            "with_first_invocation_ms": 250.0, "with_first_invocation_ratio": 2.5}}},
        handlers={"create_handler_vs_put_item": {**timing, "ratio": create},
                  "totals_read_vs_get_item": {**timing, "ratio": totals}})


def test_check_every_ratio_within_target_passes() -> None:
    assert report(create=1.5, totals=1.3, per_batch=1.0).check() is True


@pytest.mark.parametrize("create,totals,per_batch", [(1.51, 1.0, 1.0), (1.0, 1.31, 1.0), (1.0, 1.0, 1.01)])
def test_check_any_ratio_over_target_fails(create: float, totals: float, per_batch: float) -> None:
    checked = report(create, totals, per_batch)

    assert checked.check() is False
    assert [name for name, t in checked.targets.items() if not t["met"]] != []


def test_render_missed_target_says_missed() -> None:
    missed = report(create=2.0, totals=1.0, per_batch=1.0)
    missed.check()

    table = bench.render(missed)

    assert "| create_handler_vs_put_item | 1.0 | 1.0 | 2.0 | ≤ 1.5 | MISSED |" in table
    assert "| PledgesFunction | 1.0 |  | 5.0 | 9.0 | 120.0 | 1.2 | 250.0 | 2.5 |" in table


def test_check_cold_import_over_one_and_a_half_boto3_fails() -> None:
    slow = report(create=1.0, totals=1.0, per_batch=1.0, cold_import=1.51)

    assert slow.check() is False
    assert slow.targets["cold_import_PledgesFunction_vs_boto3"] == {"measured": 1.51, "target": 1.5, "met": False}


def test_check_cold_import_at_one_and_a_half_boto3_passes() -> None:
    assert report(create=1.0, totals=1.0, per_batch=1.0, cold_import=1.5).check() is True


def test_capacity_model_scales_demand_with_the_rate_and_names_the_first_bottleneck() -> None:
    rows = bench.capacity_model(report(create=1.0, totals=1.0, per_batch=1.0))

    low, high = rows[0], rows[-1]
    assert (low["rate"], low["donations_per_s"]) == (1000, 100.0)
    # 100 donations/s x 2 provider calls: twice the provider's 100/s, the largest share of any quota
    assert low["demand"]["provider_rps"] == 200.0
    assert low["first_bottleneck"] == "provider_rps"
    # Little's law: 100 donations/s x 4 task invocations x 0.1 s
    assert low["lambda_concurrency_by_function"]["PaymentTaskFunction"] == 40.0
    assert high["demand"]["api_gateway_rps"] == 10_000
    assert "api_gateway_rps" not in high["over_default_quota"]  # at the quota, not over it
    assert high["demand"]["dynamodb_on_demand_wcu"] == 1000 * 10.0  # the busiest table's


def test_capacity_model_counts_the_hottest_item_at_most_once_per_pledge() -> None:
    heavy = report(create=1.0, totals=1.0, per_batch=1.0)
    heavy.donations.totals_item_writes_per_pledge = 2.0

    rows = bench.capacity_model(heavy)

    assert rows[0]["demand"]["dynamodb_item_wcu"] == 100.0


def test_capacity_model_prefers_the_uncontended_durations_of_the_trickle() -> None:
    measured = report(create=1.0, totals=1.0, per_batch=1.0)
    measured.trickle = bench.Trickle(donations=3, seconds_to_complete=[5.0, 5.5, 6.0],
                                     mean_ms={"PaymentTaskFunction": 25.0})

    rows = bench.capacity_model(measured)

    # 100 donations/s x 4 task invocations x 0.025 s, not the burst's 0.1 s
    assert rows[0]["lambda_concurrency_by_function"]["PaymentTaskFunction"] == 10.0


def test_attach_without_a_stack_there_exits_with_a_clear_message() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    with pytest.raises(SystemExit, match="no healthy local stack .* start one with `make run`"):
        bench.attach(closed, "http://127.0.0.1:4566")


def test_attach_to_a_healthy_stack_takes_its_urls_and_the_local_admin(server: str, monkeypatch) -> None:
    monkeypatch.delenv("CAREFORALL_ADMIN_EMAIL", raising=False)

    stack = bench.attach(server + "/", "http://127.0.0.1:4566/")

    assert (stack.base_url, stack.aws_endpoint) == (server, "http://127.0.0.1:4566")
    assert stack.admin_email == "admin@careforall.local"


def test_attach_to_a_server_that_is_not_a_stack_exits(server: str) -> None:
    with pytest.raises(SystemExit, match="GET /health: 404"):
        bench.attach(server + "/elsewhere", "http://127.0.0.1:4566")


def test_per_donation_summary_counts_only_our_invocations_and_the_provider_calls_apart() -> None:
    summary = bench.per_donation_summary(report(create=1.0, totals=1.0, per_batch=1.0).donations)

    assert summary["invocations_ours"] == 5.0  # PledgesFunction 1 + PaymentTaskFunction 4; the provider's apart
    assert summary["provider_calls"] == 2.0
    assert summary["item_writes"] == 12.0
