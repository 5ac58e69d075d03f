#!/usr/bin/env python3
"""make bench: load, latency and the machine-independent ratios of CareForAll, on the real local stack.

Starts a local stack of its own (output in test-artifacts/bench/), or measures one already running (--attach;
make bench BENCH_ARGS="--attach http://127.0.0.1:8080"), then, in one run:

1. **Load** (an asyncio client, aiohttp): campaign reads, totals reads and guest pledge creation through the
   HTTP gateway, each for a few seconds at several concurrency levels: requests/s, p50/p95/p99, error rate.
2. **Writes per donation**: once the pipeline is quiet, a burst of guest pledges to a new campaign, followed to
   COMPLETED; the emulator's write meter (infra/local/careforall_local/write_meter.py) gives the DynamoDB item
   writes per completed donation, per table, and the writes to the campaign's totals item per pledge and per
   aggregator batch; the ops data gives each function's invocations per donation and its duration.
3. **Cold-start imports**: each function's handler module imported in a fresh interpreter with its template
   environment, against `import boto3` alone (median of several rounds, alternating).
4. **Handler ÷ bare call**: in this process, the pledge-create handler against one bare conditional PutItem,
   and the totals-read handler against one bare GetItem, on the same emulator, request by request alternating.

Prints the tables, writes bench.json, and exits 1 when a target is missed: create ≤ 1.5 × PutItem, totals read
≤ 1.3 × GetItem, at most one write to a campaign's totals item per aggregator batch.

    python scripts/bench.py [--seconds 4] [--levels 1,8,32] [--donations 60] [--json bench.json]
    python scripts/bench.py --attach http://127.0.0.1:8080     # a stack started by `make run`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT, REPO_ROOT / "infra" / "local"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import aiohttp
import requests
from careforall_local.launcher import RunningStack, start_stack
from careforall_local.runtime import lambda_environment
from careforall_local.settings import LocalSettings
from careforall_local.stack import FunctionSpec, LocalStackModel
from careforall_local.write_meter import WRITES_PATH

from scripts.chaos import wait_for_quiet
from tests.integration.helpers import aws_client, ops, payment_executions, table_name

TARGETS = {"create_handler_vs_put_item": 1.5, "totals_read_vs_get_item": 1.3, "totals_item_writes_per_batch": 1.0}
ARTIFACTS = REPO_ROOT / "test-artifacts" / "bench"
PROVIDER_TABLES = {"SandboxProviderTable"}  # the stand-in payment provider's own table: not the platform's writes
AGGREGATOR = "TotalsAggregatorFunction"


# ====================================================================================== 1. load
@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    expected: int
    body: Callable[[], bytes | None] = lambda: None
    headers: Callable[[], dict[str, str]] = dict


@dataclass
class LevelResult:
    scenario: str
    concurrency: int
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    statuses: dict[str, int]


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))]


async def run_level(base_url: str, scenario: Scenario, concurrency: int, seconds: float,
                    warmup: float) -> LevelResult:
    """`concurrency` clients, each sending its next request as soon as the last answered, for `seconds`, after
    `warmup` seconds unmeasured (the function workers this concurrency needs start cold, as Lambda's would:
    cold starts are measured apart, by the import phase)."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        measure_from = loop.time() + warmup
        stop_at = measure_from + seconds

        async def client() -> None:
            while loop.time() < stop_at:
                started = time.perf_counter()
                try:
                    async with session.request(scenario.method, base_url + scenario.path, data=scenario.body(),
                                               headers=scenario.headers()) as response:
                        await response.read()
                        status = str(response.status)
                except (TimeoutError, aiohttp.ClientError) as error:
                    status = type(error).__name__
                if loop.time() >= measure_from:
                    latencies.append((time.perf_counter() - started) * 1000)
                    statuses[status] += 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = seconds + max(0.0, loop.time() - stop_at)  # the last answers arrive after stop_at
    latencies.sort()
    errors = sum(count for status, count in statuses.items() if status != str(scenario.expected))
    return LevelResult(scenario.name, concurrency, len(latencies), round(elapsed, 2),
                       round(len(latencies) / elapsed, 1), round(percentile(latencies, 0.50), 1),
                       round(percentile(latencies, 0.95), 1), round(percentile(latencies, 0.99), 1),
                       round(errors / max(1, len(latencies)), 4), dict(statuses))


def load_phase(stack: RunningStack, campaign_id: str, levels: list[int], seconds: float, warmup: float,
               progress: Callable[[str], None]) -> list[LevelResult]:
    pledge_body = json.dumps({"amount": "10.00", "donor_email": "bench@example.com",
                              "payment_method": "pm_card_visa"}).encode()
    scenarios = [
        Scenario("campaign read", "GET", f"/campaigns/{campaign_id}", 200),
        Scenario("totals read", "GET", f"/campaigns/{campaign_id}/totals", 200),
        # Last: every pledge sets the payment pipeline to work, which would slow the reads measured after it.
        Scenario("pledge create", "POST", f"/campaigns/{campaign_id}/pledges", 201, body=lambda: pledge_body,
                 headers=lambda: {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}),
    ]
    results = []
    for scenario in scenarios:
        for concurrency in levels:
            result = asyncio.run(run_level(stack.base_url, scenario, concurrency, seconds, warmup))
            progress(f"bench: {scenario.name:<14} c={concurrency:<3} {result.requests_per_second:>7.1f} req/s  "
                     f"p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms  errors {result.error_rate:.2%}")
            results.append(result)
    return results


# ====================================================================================== 2. writes per donation
@dataclass
class DonationAccounting:
    pledges: int
    completed: int
    seconds_to_settle: float
    writes_per_donation: float
    rejected_writes_per_donation: float
    transactional_writes_per_donation: float
    writes_per_donation_by_table: dict[str, float]
    provider_writes_per_donation: float
    totals_item_writes: int
    totals_item_writes_per_pledge: float
    aggregator_batches: int
    totals_item_writes_per_batch: float
    write_units_per_donation: float  # transactional writes twice, refused writes once (items up to 1 KB)
    write_units_per_donation_by_table: dict[str, float]
    state_transitions_per_workflow: float
    invocations_per_donation: dict[str, float]
    function_p50_ms: dict[str, float | None]
    function_p99_ms: dict[str, float | None]
    # As AWS bills (write_meter.py, docs/write-accounting.md): item sizes, ConditionChecks, index writes
    billed_wcu_per_donation: float = 0.0  # tables and their indexes, refused writes included
    billed_wcu_per_donation_by_table: dict[str, float] = field(default_factory=dict)
    gsi_writes_per_donation: float = 0.0
    gsi_writes_per_donation_by_index: dict[str, float] = field(default_factory=dict)
    condition_checks_per_donation: float = 0.0


def function_counts(base_url: str) -> dict[str, int]:
    return {name: f["invocations"] for name, f in ops(base_url)["functions"].items()}


def meter(stack: RunningStack, method: str = "GET") -> dict:
    response = requests.request(method, stack.aws_endpoint + WRITES_PATH, timeout=10)
    response.raise_for_status()
    return response.json()


def donation_phase(stack: RunningStack, admin: dict[str, str], model: LocalStackModel, pledges: int,
                   progress: Callable[[str], None]) -> DonationAccounting:
    campaign_id = create_campaign(stack, admin, "Bench: writes per donation")
    logical_by_table = {table_name(stack.aws_endpoint, logical): logical
                        for logical in model.of_type("AWS::DynamoDB::Table")}
    before = function_counts(stack.base_url)
    meter(stack, "DELETE")
    started = time.monotonic()
    body = {"amount": "10.00", "donor_email": "bench-writes@example.com", "payment_method": "pm_card_visa"}

    def give(_: int) -> int:
        return requests.post(f"{stack.base_url}/campaigns/{campaign_id}/pledges", json=body, timeout=30,
                             headers={"Idempotency-Key": str(uuid.uuid4())}).status_code

    with ThreadPoolExecutor(16) as pool:  # a burst, so the stream consumers see batches of more than one
        statuses = Counter(pool.map(give, range(pledges)))
    if statuses != {201: pledges}:
        raise RuntimeError(f"the burst of pledges was not all accepted: {dict(statuses)}")
    wait_for_quiet(stack.base_url, stack.aws_endpoint, None, timeout=240, progress=progress)
    settled = time.monotonic() - started
    writes, after = meter(stack), function_counts(stack.base_url)
    completed = count_pledges(stack, admin, campaign_id, "COMPLETED")
    if completed != pledges:
        raise RuntimeError(f"{completed} of {pledges} pledges completed")

    tables = {logical_by_table.get(name, name): row for name, row in writes["tables"].items()}
    platform_tables = {name: row for name, row in tables.items() if name not in PROVIDER_TABLES}
    per = lambda n: round(n / completed, 2)
    totals_item = next((h for h in tables.get("TotalsTable", {}).get("hottest", [])
                        if h["key"] == {"campaign_id": {"S": campaign_id}}), {"writes": 0})
    invocations = {name.split("-", 1)[-1]: after.get(name, 0) - before.get(name, 0) for name in after}
    batches = invocations.get(AGGREGATOR, 0)
    functions = ops(stack.base_url)["functions"]
    units = {name: row["single"] + row["batch"] + 2 * row["transactional"] + row["rejected"]
             for name, row in platform_tables.items()}
    billed = {name: row["wcu"] + row["rejected_wcu"] + row["gsi_wcu"] for name, row in platform_tables.items()}
    by_index = {f"{name}.{index}": count for name, row in platform_tables.items()
                for index, count in row["indexes"].items()}
    return DonationAccounting(
        pledges=pledges, completed=completed, seconds_to_settle=round(settled, 1),
        writes_per_donation=per(sum(row["writes"] for row in platform_tables.values())),
        rejected_writes_per_donation=per(sum(row["rejected"] for row in platform_tables.values())),
        transactional_writes_per_donation=per(sum(row["transactional"] for row in platform_tables.values())),
        writes_per_donation_by_table={name: per(row["writes"]) for name, row in sorted(platform_tables.items())},
        provider_writes_per_donation=per(sum(row["writes"] for name, row in tables.items() if name in PROVIDER_TABLES)),
        totals_item_writes=totals_item["writes"],
        totals_item_writes_per_pledge=round(totals_item["writes"] / completed, 3),
        aggregator_batches=batches,
        totals_item_writes_per_batch=round(totals_item["writes"] / max(1, batches), 3),
        write_units_per_donation=per(sum(units.values())),
        write_units_per_donation_by_table={name: per(value) for name, value in sorted(units.items())},
        billed_wcu_per_donation=per(sum(billed.values())),
        billed_wcu_per_donation_by_table={name: per(value) for name, value in sorted(billed.items())},
        gsi_writes_per_donation=per(sum(row["gsi_writes"] for row in platform_tables.values())),
        gsi_writes_per_donation_by_index={name: per(count) for name, count in sorted(by_index.items())},
        condition_checks_per_donation=per(sum(row["condition_checks"] for row in platform_tables.values())),
        state_transitions_per_workflow=state_transitions(stack, sample=10),
        invocations_per_donation={name: per(count) for name, count in sorted(invocations.items()) if count},
        function_p50_ms={name.split("-", 1)[-1]: f.get("p50_ms") for name, f in sorted(functions.items())},
        function_p99_ms={name.split("-", 1)[-1]: f.get("p99_ms") for name, f in sorted(functions.items())},
    )


@dataclass
class Trickle:
    """Donations one at a time on an otherwise idle stack: each function's mean duration without contention
    from the others (the burst's p50s include waiting for the two shared cores), and pledge-to-completion."""

    donations: int
    seconds_to_complete: list[float]
    mean_ms: dict[str, float]


def trickle_phase(stack: RunningStack, admin: dict[str, str], donations: int,
                  progress: Callable[[str], None]) -> Trickle:
    campaign_id = create_campaign(stack, admin, "Bench: one at a time")
    before = ops(stack.base_url)["functions"]
    seconds = []
    for index in range(donations):
        started = time.monotonic()
        response = requests.post(f"{stack.base_url}/campaigns/{campaign_id}/pledges", timeout=30,
                                 headers={"Idempotency-Key": str(uuid.uuid4())},
                                 json={"amount": "5.00", "donor_email": "bench-trickle@example.com"})
        response.raise_for_status()
        deadline = started + 60
        while count_pledges(stack, admin, campaign_id, "COMPLETED") <= index:
            if time.monotonic() > deadline:
                raise TimeoutError(f"pledge {response.json()['id']} did not complete within 60 s")
            time.sleep(0.05)  # the next look at the campaign's completed pledges
        seconds.append(round(time.monotonic() - started, 2))
        wait_for_quiet(stack.base_url, stack.aws_endpoint, None, quiet_seconds=1.0, timeout=60, progress=progress)
    after = ops(stack.base_url)["functions"]
    mean_ms = {}
    for name, stats in after.items():
        calls = stats["invocations"] - before.get(name, {}).get("invocations", 0)
        if calls:
            spent = stats["total_ms"] - before.get(name, {}).get("total_ms", 0.0)
            mean_ms[name.split("-", 1)[-1]] = round(spent / calls, 1)
    return Trickle(donations, seconds, mean_ms)


def state_transitions(stack: RunningStack, sample: int) -> float:
    """States entered per payment workflow (each a billed, throttled state transition), over the newest
    `sample` succeeded executions."""
    sfn = aws_client(stack.aws_endpoint, "stepfunctions")
    done = [e for e in payment_executions(stack.aws_endpoint) if e["status"] == "SUCCEEDED"]
    counts = []
    for execution in sorted(done, key=lambda e: e["startDate"], reverse=True)[:sample]:
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        counts.append(sum(1 for event in events if event["type"].endswith("StateEntered")))
    return round(statistics.mean(counts), 1) if counts else float("nan")


def count_pledges(stack: RunningStack, admin: dict[str, str], campaign_id: str, status: str) -> int:
    count, cursor = 0, None
    while True:
        params = {"status": status, "limit": 100, **({"cursor": cursor} if cursor else {})}
        response = requests.get(f"{stack.base_url}/campaigns/{campaign_id}/pledges", params=params, timeout=30,
                                headers={"Authorization": f"Bearer {admin['token']}"})
        response.raise_for_status()
        page = response.json()
        count += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return count


# ====================================================================================== 3. cold-start imports
IMPORT_PROBE = """
import importlib, sys, time
started = time.perf_counter()
importlib.import_module(sys.argv[1])
if sys.argv[2:] == ["first-invocation"]:  # and what an entry point defers to the first invocation
    importlib.import_module("careforall.deferred").load_all()
print(time.perf_counter() - started)
"""
COLD_IMPORT_TARGET = 1.5  # a handler module's import (Lambda's INIT) ÷ `import boto3`, same run


def import_seconds(module: str, environment: dict[str, str], path: list[Path], first_invocation: bool = False
                   ) -> float:
    env = {**environment, "PYTHONPATH": os.pathsep.join(str(p) for p in path), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-c", IMPORT_PROBE, module, *(["first-invocation"] if first_invocation else [])]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def import_phase(aws_endpoint: str, functions: dict[str, FunctionSpec], rounds: int) -> dict[str, Any]:
    """Each handler module once per round in a fresh interpreter (bytecode already compiled, as in a Lambda
    package), with boto3 alone in the same rounds; the ratio of medians.

    Each probe gets exactly the environment the Lambda runtime gives the function (the worker's
    `lambda_environment`: the template's variables plus LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV and the rest), with
    only its code folder and layer on the path: the X-Ray SDK, for one, behaves differently inside Lambda."""
    probes: dict[str, tuple[str, dict[str, str], list[Path]]] = {}
    for spec in functions.values():
        module = spec.handler.rsplit(".", 1)[0]
        probes[spec.logical_id] = (module, lambda_environment(spec, aws_endpoint), [spec.code_dir, *spec.layer_dirs])
    lambda_env = next(iter(probes.values()))[1]  # boto3 alone, in a function's Lambda environment
    probes = {"boto3": ("boto3", lambda_env, []), **probes}
    for name, (module, environment, path) in probes.items():  # compile once: a deployed package ships its bytecode
        import_seconds(module, {**environment, "PYTHONDONTWRITEBYTECODE": ""}, path, first_invocation=name != "boto3")
    samples: dict[str, list[float]] = {name: [] for name in probes}
    first: dict[str, list[float]] = {name: [] for name in probes if name != "boto3"}
    for _ in range(rounds):
        for name, (module, environment, path) in probes.items():
            samples[name].append(import_seconds(module, environment, path))
            if name in first:
                first[name].append(import_seconds(module, environment, path, first_invocation=True))
    boto3_ms = statistics.median(samples.pop("boto3")) * 1000
    return {"boto3_ms": round(boto3_ms, 1), "rounds": rounds, "functions": {
        name: {"module": probes[name][0], "ms": round(statistics.median(values) * 1000, 1),
               "ratio_to_boto3": round(statistics.median(values) * 1000 / boto3_ms, 2),
               "with_first_invocation_ms": round(statistics.median(first[name]) * 1000, 1),
               "with_first_invocation_ratio": round(statistics.median(first[name]) * 1000 / boto3_ms, 2)}
        for name, values in sorted(samples.items())}}


# ====================================================================================== 4. handler ÷ bare call
class LambdaContext:
    memory_limit_in_mb = 512
    aws_request_id = "bench"

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.invoked_function_arn = spec.arn

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def rest_event(method: str, resource: str, path: str, path_parameters: dict[str, str], body: str | None = None,
               headers: dict[str, str] | None = None) -> dict:
    headers = headers or {}
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": path_parameters, "stageVariables": None,
        "body": body, "isBase64Encoded": False,
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "v1", "httpMethod": method, "resourcePath": resource,
                           "path": f"/v1{path}", "identity": {"sourceIp": "127.0.0.1"}, "accountId": "123456789012",
                           "apiId": "local"},
    }


def load_handler(stack: RunningStack, spec: FunctionSpec) -> Callable[[dict, Any], dict]:
    """The function's handler in this process, configured as the template configures it, tracing and metrics off."""
    os.environ.update(spec.environment)
    os.environ.update(AWS_ENDPOINT_URL=stack.aws_endpoint, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_LOG_LEVEL="WARNING",
                      POWERTOOLS_METRICS_DISABLED="1")
    for folder in (spec.code_dir, *spec.layer_dirs):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    module, function = spec.handler.rsplit(".", 1)
    return getattr(importlib.import_module(module), function)


def alternate(handler_call: Callable[[], None], bare_call: Callable[[], None], requests_per_round: int,
              rounds: int) -> dict[str, Any]:
    """Alternates the two request by request, so background work in the emulator (the pipeline, other
    processes) weighs on both sides alike; the median of the per-round ratios."""
    handler_call(), bare_call()  # warm: connections, caches, the campaign read
    ratios, handler_ms, bare_ms = [], [], []
    for _ in range(rounds):
        handler_total = bare_total = 0.0
        for _ in range(requests_per_round):
            started = time.perf_counter()
            bare_call()
            middle = time.perf_counter()
            handler_call()
            handler_total += time.perf_counter() - middle
            bare_total += middle - started
        handler_ms.append(handler_total / requests_per_round * 1000)
        bare_ms.append(bare_total / requests_per_round * 1000)
        ratios.append(handler_total / bare_total)
    return {"handler_ms": round(statistics.median(handler_ms), 2), "bare_ms": round(statistics.median(bare_ms), 2),
            "ratio": round(statistics.median(ratios), 2), "rounds": [round(r, 2) for r in ratios],
            "requests_per_round": requests_per_round}


def streamless_copy(client, table: str) -> str:
    """A copy of the table (keys, indexes) without its stream: pledges written to it set no pipeline to work,
    which would otherwise slow the emulator under the measurement."""
    description = client.describe_table(TableName=table)["Table"]
    copy = f"{table}-bench-{uuid.uuid4().hex[:8]}"
    indexes = [{k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
               for index in description.get("GlobalSecondaryIndexes", [])]
    client.create_table(TableName=copy, KeySchema=description["KeySchema"], BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=description["AttributeDefinitions"],
                        **({"GlobalSecondaryIndexes": indexes} if indexes else {}))
    return copy


def handler_phase(stack: RunningStack, functions: dict[str, FunctionSpec], campaign_id: str, requests_per_round: int,
                  rounds: int) -> dict[str, Any]:
    client = aws_client(stack.aws_endpoint, "dynamodb")
    by_logical = {spec.logical_id: spec for spec in functions.values()}

    totals = by_logical["TotalsFunction"]
    read_totals = load_handler(stack, totals)
    totals_table = totals.environment["TOTALS_TABLE_NAME"]
    totals_event = rest_event("GET", "/campaigns/{id}/totals", f"/campaigns/{campaign_id}/totals", {"id": campaign_id})

    def totals_read() -> None:
        response = read_totals(totals_event, LambdaContext(totals))
        assert response["statusCode"] == 200, response

    def bare_get() -> None:
        client.get_item(TableName=totals_table, Key={"campaign_id": {"S": campaign_id}})

    pledges = by_logical["PledgesFunction"]
    pledges_table = streamless_copy(client, pledges.environment["PLEDGES_TABLE_NAME"])
    pledges = replace(pledges, environment={**pledges.environment, "PLEDGES_TABLE_NAME": pledges_table})
    create = load_handler(stack, pledges)
    body = json.dumps({"amount": "25.00", "donor_email": "bench@example.com"})

    def create_pledge() -> None:
        key = str(uuid.uuid4())
        event = rest_event("POST", "/campaigns/{id}/pledges", f"/campaigns/{campaign_id}/pledges", {"id": campaign_id},
                           body, {"Content-Type": "application/json", "Idempotency-Key": key})
        response = create(event, LambdaContext(pledges))
        assert response["statusCode"] == 201, response

    pledge_item: dict[str, Any] = {}

    def bare_put() -> None:
        # The same write the handler makes, bare: a copy of a pledge it wrote (every attribute, so the same
        # size to send and store), under a new key.
        if not pledge_item:
            pledge_item.update(client.scan(TableName=pledges_table, Limit=1)["Items"][0])
        client.put_item(TableName=pledges_table, Item={**pledge_item, "pk": {"S": f"PLEDGE#{uuid.uuid4()}"}},
                        ConditionExpression="attribute_not_exists(pk)")

    # The handlers print their logs and EMF metrics, as in Lambda: to a file here, not the bench's table.
    with (ARTIFACTS / "handlers.log").open("w") as log, contextlib.redirect_stdout(log):
        return {"totals_read_vs_get_item": alternate(totals_read, bare_get, requests_per_round, rounds),
                "create_handler_vs_put_item": alternate(create_pledge, bare_put, requests_per_round, rounds)}


# ====================================================================================== capacity model
# Default quotas of one account in us-east-1, as documented (sources in docs/capacity.md); all but the
# per-partition limits can be raised.
QUOTAS = {
    "api_gateway_rps": 10_000,               # REST APIs: account-level throttle per region (burst 5,000)
    "lambda_concurrency": 1_000,             # concurrent executions per region
    "sfn_start_execution_per_s": 300,        # Standard workflows: StartExecution refill rate (bucket 1,300)
    "sfn_state_transitions_per_s": 5_000,    # Standard workflows: StateTransition refill rate (bucket 5,000)
    "dynamodb_on_demand_wcu": 4_000,         # per table: what a new on-demand table serves at once (it then
                                             # doubles within 30 min of a new peak; 40,000 per table by default)
    "dynamodb_item_wcu": 1_000,              # one partition, so one item: a hard limit
    "provider_rps": 100,                     # Stripe's live-mode rate limit (25 per endpoint)
}
TRAFFIC_MIX = {"campaign read": 0.45, "totals read": 0.45, "pledge create": 0.10}
RATES = (1_000, 5_000, 10_000)
API_FUNCTIONS = {"campaign read": "CampaignsFunction", "totals read": "TotalsFunction",
                 "pledge create": "PledgesFunction"}
PROVIDER = "SandboxProviderFunction"  # its invocations are the calls a real provider would answer


def capacity_model(report: BenchReport) -> list[dict[str, Any]]:
    """Per rate of API requests (TRAFFIC_MIX), what each limited resource must carry, from this run's numbers.

    Lambda concurrency = invocations/s x duration (Little's law). Durations are this run's, on the local stack:
    the API functions' from the in-process handler timings and the campaign read at one client, the pipeline's
    means from the donations made one at a time (the burst's p50s where a function did not run then)."""
    d = report.donations
    pipeline_ms = {**{k: v for k, v in d.function_p50_ms.items() if v is not None},
                   **(report.trickle.mean_ms if report.trickle else {})}
    c1 = {r.scenario: r.p50_ms for r in report.load if r.concurrency == min(x.concurrency for x in report.load)}
    api_ms = {"campaign read": c1.get("campaign read"),
              "totals read": report.handlers["totals_read_vs_get_item"]["handler_ms"],
              "pledge create": report.handlers["create_handler_vs_put_item"]["handler_ms"]}
    rows = []
    for rate in RATES:
        donations = rate * TRAFFIC_MIX["pledge create"]
        concurrency = {API_FUNCTIONS[kind]: rate * share * (api_ms[kind] or 0) / 1000
                       for kind, share in TRAFFIC_MIX.items()}
        for name, per_donation in d.invocations_per_donation.items():
            if name in API_FUNCTIONS.values() or name == PROVIDER:
                continue  # the API's own are above; the provider is not ours to run
            concurrency[name] = donations * per_donation * pipeline_ms.get(name, 0) / 1000
        demand = {
            "api_gateway_rps": rate,
            "lambda_concurrency": sum(concurrency.values()),
            "sfn_start_execution_per_s": donations,
            "sfn_state_transitions_per_s": donations * d.state_transitions_per_workflow,
            # The busiest table: on-demand capacity is per table.
            "dynamodb_on_demand_wcu": donations * max(d.write_units_per_donation_by_table.values(), default=0),
            # At most one write per aggregator batch; no more than one per pledge either.
            "dynamodb_item_wcu": donations * min(1.0, d.totals_item_writes_per_pledge),
            "provider_rps": donations * d.invocations_per_donation.get(PROVIDER, 0),
        }
        use = {name: round(value / QUOTAS[name], 2) for name, value in demand.items()}
        rows.append({"rate": rate, "donations_per_s": donations, "demand": {k: round(v, 1) for k, v in demand.items()},
                     "share_of_default_quota": use, "first_bottleneck": max(use, key=use.get),
                     "over_default_quota": sorted(name for name, value in use.items() if value > 1),
                     "lambda_concurrency_by_function": {k: round(v, 1) for k, v in sorted(concurrency.items())}})
    return rows


# ====================================================================================== the run
def login(stack: RunningStack) -> dict[str, str]:
    response = requests.post(f"{stack.base_url}/auth/login", timeout=30,
                             json={"email": stack.admin_email, "password": stack.admin_password})
    response.raise_for_status()
    return response.json()


def create_campaign(stack: RunningStack, admin: dict[str, str], title: str) -> str:
    response = requests.post(f"{stack.base_url}/campaigns", headers={"Authorization": f"Bearer {admin['token']}"},
                             json={"title": title, "description": "make bench", "goal_amount": "100000000"}, timeout=30)
    response.raise_for_status()
    return response.json()["id"]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


@dataclass
class BenchReport:
    started_at: str
    machine: dict[str, Any]
    seconds: float = 0.0
    load: list[LevelResult] = field(default_factory=list)
    donations: DonationAccounting | None = None
    trickle: Trickle | None = None
    imports: dict[str, Any] = field(default_factory=dict)
    handlers: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    capacity: list[dict[str, Any]] = field(default_factory=list)
    per_donation: dict[str, float] = field(default_factory=dict)

    def check(self) -> bool:
        measured = {name: self.handlers[name]["ratio"] for name in ("create_handler_vs_put_item",
                                                                    "totals_read_vs_get_item")}
        measured["totals_item_writes_per_batch"] = self.donations.totals_item_writes_per_batch
        targets = dict(TARGETS)
        for name, imported in self.imports.get("functions", {}).items():
            measured[f"cold_import_{name}_vs_boto3"] = imported["ratio_to_boto3"]
            targets[f"cold_import_{name}_vs_boto3"] = COLD_IMPORT_TARGET
        self.targets = {name: {"measured": value, "target": targets[name], "met": value <= targets[name]}
                        for name, value in measured.items()}
        return all(t["met"] for t in self.targets.values())


@dataclass(frozen=True)
class AttachedStack:
    """A stack started by someone else (`make run`): measured, never stopped."""

    base_url: str
    aws_endpoint: str
    admin_email: str
    admin_password: str

    def stop(self) -> None:
        pass


def attach(base_url: str, aws_endpoint: str) -> AttachedStack:
    settings = LocalSettings.from_env()
    base_url, aws_endpoint = base_url.rstrip("/"), aws_endpoint.rstrip("/")
    try:
        status = requests.get(f"{base_url}/health", timeout=10).status_code
    except requests.ConnectionError:
        status = None
    if status != 200:
        raise SystemExit(f"bench: no healthy local stack at {base_url} (GET /health: {status or 'no answer'}); "
                         "start one with `make run`, or leave out --attach")
    return AttachedStack(base_url, aws_endpoint, settings.admin_email, settings.admin_password)


def run(args: argparse.Namespace, progress: Callable[[str], None] = print) -> BenchReport:
    report = BenchReport(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), machine())
    started = time.monotonic()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stack = attach(args.attach, args.aws_endpoint) if args.attach else start_stack(ARTIFACTS)
    try:
        # The parameters `make run` resolves (stacks/local.json, CAREFORALL_PARAMETER_OVERRIDES), so the handlers
        # this process runs find the stack's tables and secrets.
        model = LocalStackModel(REPO_ROOT / "template.yaml", LocalSettings.from_env().parameter_overrides())
        functions = model.functions()
        admin = login(stack)
        campaign_id = create_campaign(stack, admin, "Bench: load")
        report.load = load_phase(stack, campaign_id, args.levels, args.seconds, args.warmup, progress)
        progress("bench: waiting for the pipeline to finish the load's pledges")
        wait_for_quiet(stack.base_url, stack.aws_endpoint, None, timeout=300, progress=progress)
        progress(f"bench: {args.donations} pledges to completion, counting DynamoDB writes")
        report.donations = donation_phase(stack, admin, model, args.donations, progress)
        progress(f"bench: {args.trickle} pledges one at a time, for uncontended durations")
        report.trickle = trickle_phase(stack, admin, args.trickle, progress)
        progress("bench: handlers against bare DynamoDB calls")
        report.handlers = handler_phase(stack, functions, campaign_id, args.requests, args.rounds)
        progress(f"bench: cold-start imports, {args.import_rounds} rounds")
        report.imports = import_phase(stack.aws_endpoint, functions, args.import_rounds)
    finally:
        stack.stop()
    report.seconds = round(time.monotonic() - started, 1)
    return report


PROVIDER_FUNCTIONS = ("SandboxProviderFunction", "SandboxWebhookSenderFunction")  # the payment provider's, not ours


def per_donation_summary(d: DonationAccounting) -> dict[str, float]:
    """One completed donation's cost, named as issue 18's budget names it (bench.json `per_donation`)."""
    return {"item_writes": d.writes_per_donation, "wcu": d.billed_wcu_per_donation,
            "gsi_writes": d.gsi_writes_per_donation, "state_transitions": d.state_transitions_per_workflow,
            "invocations_ours": round(sum(v for k, v in d.invocations_per_donation.items()
                                          if k not in PROVIDER_FUNCTIONS), 2),
            "provider_calls": d.invocations_per_donation.get("SandboxProviderFunction", 0.0)}


def render(report: BenchReport) -> str:
    lines = [f"make bench, {report.started_at}, {report.seconds} s: {report.machine['cpu']}, "
             f"{report.machine['cores']} cores, Python {report.machine['python']}", "",
             "| scenario | clients | req/s | p50 ms | p95 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.scenario} | {r.concurrency} | {r.requests_per_second} | {r.p50_ms} | {r.p95_ms} | {r.p99_ms} | "
              f"{r.error_rate:.2%} |" for r in report.load]
    d = report.donations
    lines += ["", "| per completed donation | value |", "|---|---:|",
              f"| DynamoDB item writes (platform) | {d.writes_per_donation} |",
              f"| of which transactional (2 WCU each) | {d.transactional_writes_per_donation} |",
              f"| refused conditional writes | {d.rejected_writes_per_donation} |",
              f"| write capacity units (items up to 1 KB) | {d.write_units_per_donation} |",
              f"| WCU as AWS bills (sizes, ConditionChecks, indexes, refused writes) | {d.billed_wcu_per_donation} |",
              f"| global secondary index writes | {d.gsi_writes_per_donation} |",
              f"| transactional ConditionChecks | {d.condition_checks_per_donation} |",
              f"| state transitions per payment workflow | {d.state_transitions_per_workflow} |"]
    lines += [f"| writes to {name} (WCU; as billed) | {value} ({d.write_units_per_donation_by_table.get(name)}; "
              f"{d.billed_wcu_per_donation_by_table.get(name)}) |" for name, value in d.writes_per_donation_by_table.items()]
    lines += [f"| index writes to {name} | {value} |" for name, value in d.gsi_writes_per_donation_by_index.items()]
    if report.trickle:
        lines.append(f"| seconds from pledge to COMPLETED, one at a time (median) | "
                     f"{statistics.median(report.trickle.seconds_to_complete)} |")
    lines += [f"| writes to the sandbox provider's table (not ours) | {d.provider_writes_per_donation} |",
              f"| writes to the campaign's totals item per pledge | {d.totals_item_writes_per_pledge} "
              f"({d.totals_item_writes} writes, {d.pledges} pledges) |",
              f"| writes to the campaign's totals item per aggregator batch | {d.totals_item_writes_per_batch} "
              f"({d.aggregator_batches} batches) |", "",
              "| function | invocations per donation | mean ms, one at a time | p50 ms, burst | p99 ms, burst | "
              "cold-start import ms | ÷ boto3 import | + first invocation's imports ms | ÷ boto3 import |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    alone = report.trickle.mean_ms if report.trickle else {}
    for name, imported in report.imports["functions"].items():
        lines.append(f"| {name} | {d.invocations_per_donation.get(name, 0)} | {alone.get(name, '')} | "
                     f"{d.function_p50_ms.get(name)} | {d.function_p99_ms.get(name)} | {imported['ms']} | "
                     f"{imported['ratio_to_boto3']} | {imported['with_first_invocation_ms']} | "
                     f"{imported['with_first_invocation_ratio']} |")
    lines += [f"| (boto3 alone) | | | | | {report.imports['boto3_ms']} | 1.00 | | |", "",
              "| ratio | handler ms | bare call ms | measured | target | |", "|---|---:|---:|---:|---:|---|"]
    for name, target in report.targets.items():
        timing = report.handlers.get(name, {})
        lines.append(f"| {name} | {timing.get('handler_ms', '')} | {timing.get('bare_ms', '')} | {target['measured']} "
                     f"| ≤ {target['target']} | {'met' if target['met'] else 'MISSED'} |")
    if report.capacity:
        names = list(QUOTAS)
        lines += ["", "| demand ÷ default quota | " + " | ".join(f"{r['rate']} req/s" for r in report.capacity) + " |",
                  "|---|" + "---:|" * len(report.capacity)]
        lines += [f"| {name} (quota {QUOTAS[name]}) | " + " | ".join(
            f"{r['demand'][name]} ({r['share_of_default_quota'][name]:.0%})" for r in report.capacity) + " |"
            for name in names]
        lines.append("| first bottleneck | " + " | ".join(r["first_bottleneck"] for r in report.capacity) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per scenario and concurrency level")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each level")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--donations", type=int, default=60, help="pledges followed to completion for the writes")
    parser.add_argument("--trickle", type=int, default=5, help="pledges one at a time, for uncontended durations")
    parser.add_argument("--import-rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="handler/bare-call pairs per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench.json")
    parser.add_argument("--attach", metavar="URL", help="measure a stack already running there (make run: "
                        "http://127.0.0.1:8080) instead of starting one; it should be otherwise idle")
    parser.add_argument("--aws-endpoint", default="http://127.0.0.1:4566", help="its AWS endpoint, with --attach")
    args = parser.parse_args(argv)
    report = run(args)
    met = report.check()
    report.capacity = capacity_model(report)
    report.per_donation = per_donation_summary(report.donations)
    print(render(report))
    args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"\nwritten to {args.json}; {'every target met' if met else 'a target was MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
