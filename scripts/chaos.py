"""`make chaos`: the local stack with every chaos switch on, a mixed concurrent workload, CONTRACT.md §3 checked.

1. Starts its own local stack (free ports, log in test-artifacts/chaos/) with the chaos switches (`ChaosSettings`):
   duplicated stream and SQS deliveries, invocations crashing before and after their handler (stream, sqs, and the
   Lambda Invoke API: the payment workflow's tasks and the provider calls), and a sandbox provider that drops,
   duplicates and delays (so reorders) its webhooks; workflow timeouts are short so reconciliation resolves the
   dropped ones quickly.
2. Drives a workload (`Driver`): registered donors and guests pledging to several campaigns from a thread pool,
   sequential replays and concurrent races of one Idempotency-Key, a key reused with another body, one key used by
   different callers, declined cards; signed webhooks posted concurrently (bursts of one event id) and in reverse
   order; one poison message sent straight to the payments queue.
3. Waits until every pledge settled and the pipeline is quiet, then checks every invariant of CONTRACT.md §3 from the
   tables (scanned through the AWS endpoint) and the API (`check_invariants`), and counts the faults injected from
   the stack log and the driver's own record (`count_faults`).
4. Prints both tables, writes them to chaos.json, and exits 1 on any breach or any fault class injected fewer
   times than required.

tests/integration/test_chaos.py runs the same pieces with `SHORT` against a stack of its own.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT, REPO_ROOT / "infra" / "local"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import requests  # noqa: E402

from careforall_local.launcher import RunningStack, start_stack  # noqa: E402
from tests.integration.helpers import (PAYMENT_STATE_MACHINE, PAYMENTS_QUEUE, assert_forward_history,  # noqa: E402
                                       aws_client, function_records, metric_total, ops, post_webhook, scan_table,
                                       table_name)

COUNTED = ("CAPTURED", "COMPLETED")  # invariant 3: a pledge counts while its payment is in one of these
TERMINAL = ("COMPLETED", "FAILED")
FIFO_CIRCUIT_BREAKER = "SQSFifoCircuitBreakerError"  # Powertools' SqsFifoPartialProcessor: a record after a failed one
DECLINED = "pm_card_chargeDeclined"
VISA = "pm_card_visa"
DRIVER_EVENT_PREFIX = "evt_chaos_"  # the driver's own webhook event ids; the provider's are evt_<hex>
STATE_EVENT = {"AUTHORIZED": "payment.authorized", "CAPTURED": "payment.captured", "COMPLETED": "payment.completed",
               "FAILED": "payment.failed"}


# ====================================================================================== settings
@dataclass(frozen=True)
class ChaosSettings:
    """The stack's chaos: its CAREFORALL_CHAOS_* switches and template parameters (CAREFORALL_PARAMETER_OVERRIDES)."""

    duplicate_deliveries: bool = True        # every stream and SQS batch delivered twice
    fail_before: float = 0.05                # fraction of invocations crashing before the handler ran
    fail_after: float = 0.05                 # ... after it ran (its writes stay; the source retries)
    sources: str = "stream,sqs,sdk,async"    # sdk: the workflow's Lambda tasks and the provider calls
    seed: int = 7
    webhook_duplicate_rate: str = "0.3"      # SandboxWebhookDuplicateRate
    webhook_drop_rate: str = "0.15"          # SandboxWebhookDropRate
    webhook_max_delay_seconds: int = 4       # SandboxWebhookMaxDelaySeconds: different delays reorder webhooks
    step_timeout_seconds: int = 8            # PaymentStepTimeoutSeconds: a dropped webhook costs this, then reconcile
    reconcile_interval_seconds: int = 1      # ReconcileIntervalSeconds
    max_concurrency: int = 6                 # CAREFORALL_LOCAL_MAX_CONCURRENCY (workers per function)
    # The template's PaymentsQueue keeps a message invisible 60 s after a failed receive and moves it to the DLQ at
    # the 5th: the run lowers that to the functions' Timeout (10 s, the least AWS allows for a queue feeding a
    # function) through the AWS endpoint, so crashed deliveries retry and the poison message lands within minutes.
    payments_queue_visibility_seconds: int = 10

    def env(self) -> dict[str, str]:
        return {
            "CAREFORALL_CHAOS_DUPLICATE": "1" if self.duplicate_deliveries else "0",
            "CAREFORALL_CHAOS_FAIL_BEFORE": str(self.fail_before),
            "CAREFORALL_CHAOS_FAIL_AFTER": str(self.fail_after),
            "CAREFORALL_CHAOS_SOURCES": self.sources,
            "CAREFORALL_CHAOS_SEED": str(self.seed),
            "CAREFORALL_LOCAL_MAX_CONCURRENCY": str(self.max_concurrency),
            "CAREFORALL_PARAMETER_OVERRIDES": " ".join([
                f"SandboxWebhookDuplicateRate={self.webhook_duplicate_rate}",
                f"SandboxWebhookDropRate={self.webhook_drop_rate}",
                f"SandboxWebhookMaxDelaySeconds={self.webhook_max_delay_seconds}",
                f"PaymentStepTimeoutSeconds={self.step_timeout_seconds}",
                f"ReconcileIntervalSeconds={self.reconcile_interval_seconds}"]),
        }


@dataclass(frozen=True)
class Workload:
    """What the driver does. Shares are of pledge orders; each order is one (caller, Idempotency-Key)."""

    pledges: int = 300
    donors: int = 40
    campaigns: int = 5
    threads: int = 24                # concurrent clients
    in_flight: int = 40              # unsettled pledges at most (the emulator runs every workflow task in a thread)
    declined_share: float = 0.2      # pm_card_chargeDeclined, failed at authorization
    guest_share: float = 0.35        # the rest pledge as registered donors (register + login)
    replay_share: float = 0.25       # the same request again, 1-2 times, after the answer
    race_share: float = 0.15         # `race_width` identical requests at once
    race_width: int = 4
    conflict_share: float = 0.04     # the key again with another amount: 422, nothing new
    cross_share: float = 0.06        # another caller reusing an earlier order's key: a pledge of its own
    webhook_share: float = 0.5       # payments whose webhooks the driver posts too
    burst_width: int = 4             # concurrent copies of one webhook event id
    seed: int = 20251125
    min_faults: int = 50             # each fault class injected at least this often
    settle_timeout: float = 900      # every pledge COMPLETED or FAILED within this, from the first request
    quiet_timeout: float = 240       # then the pipeline quiet (and the poison in its DLQ) within this


FULL = Workload()
SHORT = Workload(pledges=45, donors=8, campaigns=3, threads=16, in_flight=30, min_faults=3, settle_timeout=150,
                 quiet_timeout=120, replay_share=0.3, race_share=0.2, conflict_share=0.1, cross_share=0.1,
                 webhook_share=0.7)


# ====================================================================================== what the driver records
@dataclass
class Order:
    index: int
    scope: str                # "guest" or "user:<id>": the pledge's idempotency scope
    key: str
    campaign_id: str
    amount: str
    payment_method: str
    kind: str                 # single | replay | race | conflict | cross
    donor_email: str | None = None   # guests only
    token: str | None = field(default=None, repr=False)
    replays: int = 0


@dataclass
class Attempt:
    """One pledge request and its final answer (after the client's own retries of 409 in-flight / 429 / 5xx)."""

    order: int
    scope: str
    key: str
    kind: str                 # first | replay | race | conflict
    status: int
    pledge_id: str | None
    replayed: bool
    problem_type: str | None
    retries: int


@dataclass
class WebhookPost:
    event_id: str
    event_type: str
    payment_id: str
    purpose: str              # burst / race (a new event, concurrent copies) | resend (a provider event, concurrent
    #                           copies) | reverse (an earlier state, after the later one)
    status: int
    applied: bool | None


@dataclass
class RunRecord:
    campaigns: list[str] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    webhooks: list[WebhookPost] = field(default_factory=list)
    bursts: list[dict] = field(default_factory=list)   # {event_id, copies, purpose}
    poison: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def accepted(self) -> dict[tuple[str, str], str]:
        """(scope, key) -> pledge id, for every pair some request got a 201 for (the first id seen)."""
        pairs: dict[tuple[str, str], str] = {}
        for attempt in self.attempts:
            if attempt.status == 201 and attempt.pledge_id:
                pairs.setdefault((attempt.scope, attempt.key), attempt.pledge_id)
        return pairs


# ====================================================================================== the workload driver
class Driver:
    """Runs `workload` against a stack (its API base URL and AWS endpoint) and records every answer."""

    def __init__(self, base_url: str, aws_endpoint: str, admin_email: str, admin_password: str, workload: Workload,
                 settings: ChaosSettings = ChaosSettings(), progress: Callable[[str], None] = print) -> None:
        self.base_url = base_url
        self.aws_endpoint = aws_endpoint
        self.admin = (admin_email, admin_password)
        self.workload = workload
        self.settings = settings
        self.progress = progress
        self.rng = random.Random(workload.seed)
        self.record = RunRecord()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.slots = threading.BoundedSemaphore(workload.in_flight)
        self.holding: set[str] = set()          # pledge ids holding an in-flight slot
        self.order_of_pledge: dict[str, Order] = {}
        self.run_id = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------------ HTTP
    def session(self) -> requests.Session:
        if getattr(self.local, "session", None) is None:
            self.local.session = requests.Session()
        return self.local.session

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        return self.session().request(method, self.base_url + path, headers=headers, timeout=60, **kwargs)

    def expect(self, response: requests.Response, status: int) -> dict:
        if response.status_code != status:
            raise RuntimeError(f"{response.request.method} {response.url}: expected {status}, got "
                               f"{response.status_code}: {response.text[:300]}")
        return response.json()

    # ------------------------------------------------------------------ the run
    def run(self) -> RunRecord:
        started = time.monotonic()
        admin_token = self.expect(self.call("POST", "/auth/login", json={"email": self.admin[0],
                                                                         "password": self.admin[1]}), 200)["token"]
        self._tune_payments_queue()
        self.record.campaigns = [self.expect(self.call("POST", "/campaigns", token=admin_token, json={
            "title": f"Chaos {self.run_id} #{i}", "description": "Campaign under chaos.",
            "goal_amount": "2500.00" if i == 0 else "1000000.00"}), 201)["id"] for i in range(self.workload.campaigns)]
        with ThreadPoolExecutor(min(8, self.workload.threads)) as pool:
            donors = list(pool.map(self._register_and_login, range(self.workload.donors)))
        self.record.timings["setup"] = time.monotonic() - started
        self.record.orders = self._plan(donors)
        self.progress(f"chaos: {len(self.record.orders)} pledge orders, {len(donors)} donors, "
                      f"{len(self.record.campaigns)} campaigns, {self.workload.threads} clients")
        watcher = PaymentWatcher(self)
        watcher.start()
        load_started = time.monotonic()
        try:
            with ThreadPoolExecutor(self.workload.threads, thread_name_prefix="client") as pool:
                futures = []
                for position, order in enumerate(self.record.orders):
                    if position == len(self.record.orders) // 5:
                        futures.append(pool.submit(self._send_poison))  # amid the load: it must not block the rest
                    futures.append(pool.submit(self._order, order))
                for future in futures:
                    future.result()
            self.record.timings["requests answered"] = time.monotonic() - started
            self.progress(f"chaos: every request answered after {time.monotonic() - load_started:.0f} s; settling")
            watcher.wait_settled(set(self.record.accepted().values()),
                                 deadline=load_started + self.workload.settle_timeout)
            self.record.timings["payments final"] = time.monotonic() - started
        finally:
            watcher.stop()
        self.record.webhooks, self.record.bursts = watcher.posts, watcher.bursts
        return self.record

    def _tune_payments_queue(self) -> None:
        sqs = aws_client(self.aws_endpoint, "sqs")
        url = sqs.get_queue_url(QueueName=PAYMENTS_QUEUE)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "VisibilityTimeout": str(self.settings.payments_queue_visibility_seconds)})

    def _register_and_login(self, index: int) -> dict:
        email, password = f"chaos-{self.run_id}-donor-{index}@example.com", "correct horse battery staple"
        user = self.expect(self.call("POST", "/auth/register", json={"email": email, "password": password,
                                                                     "name": f"Donor {index}"}), 201)["user"]
        token = self.expect(self.call("POST", "/auth/login", json={"email": email, "password": password}),
                            200)["token"]
        return {"id": user["id"], "email": email, "token": token}

    def _plan(self, donors: list[dict]) -> list[Order]:
        w, rng, orders = self.workload, self.rng, []
        for index in range(w.pledges):
            roll = rng.random()
            kind = "single"
            for name, share in (("replay", w.replay_share), ("race", w.race_share), ("conflict", w.conflict_share),
                                ("cross", w.cross_share)):
                if roll < share:
                    kind = name
                    break
                roll -= share
            donor = None if (rng.random() < w.guest_share or not donors) else rng.choice(donors)
            key = f"chaos-{self.run_id}-{index}"
            if kind == "cross":
                # Another caller reuses an earlier order's key: keys are scoped per caller, so a pledge of its own.
                earlier = [o for o in orders if o.kind != "cross"]
                other = rng.choice(earlier) if earlier else None
                callers = ([None] if other and other.scope != "guest" else []) + [
                    d for d in donors if other and f"user:{d['id']}" != other.scope]
                if callers:
                    key, donor = other.key, rng.choice(callers)
                else:
                    kind = "single"
            orders.append(Order(
                index=index, scope=f"user:{donor['id']}" if donor else "guest", key=key,
                campaign_id=rng.choice(self.record.campaigns), amount=f"{rng.randint(100, 50_000) / 100:.2f}",
                payment_method=DECLINED if rng.random() < w.declined_share else VISA, kind=kind,
                donor_email=None if donor else f"chaos-{self.run_id}-guest-{index}@example.com",
                token=donor["token"] if donor else None, replays=rng.randint(1, 2) if kind == "replay" else 0))
        return orders

    def _order(self, order: Order) -> None:
        acquired = self.slots.acquire(timeout=120)  # never wait forever on a pledge that does not settle
        pledge_id = None
        try:
            if order.kind == "race":
                with ThreadPoolExecutor(self.workload.race_width) as racers:
                    barrier = threading.Barrier(self.workload.race_width)

                    def racer(_):
                        barrier.wait(timeout=30)
                        return self._pledge(order, "race")

                    attempts = list(racers.map(racer, range(self.workload.race_width)))
            else:
                attempts = [self._pledge(order, "first")]
            pledge_id = next((a.pledge_id for a in attempts if a.status == 201), None)
            if pledge_id:
                with self.lock:
                    self.order_of_pledge[pledge_id] = order
                    if acquired:
                        self.holding.add(pledge_id)
                acquired = False  # released by the watcher once the payment is COMPLETED or FAILED
            for _ in range(order.replays):
                self._pledge(order, "replay")
            if order.kind == "conflict":
                self._pledge(order, "conflict", amount=f"{Decimal(order.amount) + 1:.2f}")
        finally:
            if acquired:
                self.slots.release()

    def release(self, pledge_id: str) -> None:
        with self.lock:
            if pledge_id not in self.holding:
                return
            self.holding.discard(pledge_id)
        self.slots.release()

    def _pledge(self, order: Order, kind: str, amount: str | None = None) -> Attempt:
        body: dict[str, Any] = {"amount": amount or order.amount, "payment_method": order.payment_method}
        if order.donor_email:
            body["donor_email"] = order.donor_email
        headers = {"Idempotency-Key": order.key, "X-Correlation-Id": f"chaos-{self.run_id}-{order.index}-{kind}"}
        deadline, retries = time.monotonic() + 120, 0
        while True:
            try:
                response = self.call("POST", f"/campaigns/{order.campaign_id}/pledges", token=order.token,
                                     headers=headers, json=body)
                status = response.status_code
            except requests.RequestException:
                response, status = None, 0
            problem = _problem_type(response)
            in_flight = status == 409 and problem.endswith("idempotency-key-in-flight")
            if (in_flight or status in (0, 429, 500, 502, 503, 504)) and time.monotonic() < deadline:
                retries += 1
                time.sleep(min(2.0, 0.2 * 2 ** min(retries, 4)))  # a client's back-off before its retry
                continue
            break
        payload = response.json() if response is not None and status == 201 else {}
        attempt = Attempt(order=order.index, scope=order.scope, key=order.key, kind=kind, status=status,
                          pledge_id=payload.get("id"), problem_type=problem or None, retries=retries,
                          replayed=response is not None and response.headers.get("Idempotent-Replayed") == "true")
        with self.lock:
            self.record.attempts.append(attempt)
        return attempt

    def _send_poison(self) -> None:
        """A pledge.created no consumer can process (no campaign, no amount), straight onto the FIFO payments queue
        in a message group of its own, with a unique deduplication id."""
        marker = f"poison-{self.run_id}-{uuid.uuid4().hex[:8]}"
        body = {"type": "pledge.created", "version": 1, "id": f"pledge.created:{marker}",
                "occurred_at": datetime.now(timezone.utc).isoformat(), "data": {"pledge_id": marker,
                                                                                "amount_cents": "lots"}}
        sqs = aws_client(self.aws_endpoint, "sqs")
        url = sqs.get_queue_url(QueueName=PAYMENTS_QUEUE)["QueueUrl"]
        sent = sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), MessageGroupId=marker,
                                MessageDeduplicationId=marker)
        self.record.poison = {"marker": marker, "message_id": sent["MessageId"], "sent_at": time.time()}


def _problem_type(response: requests.Response | None) -> str:
    if response is None or not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        return ""
    try:
        return str(response.json().get("type") or "")
    except ValueError:
        return ""


class PaymentWatcher:
    """Scans the payments table every second: releases the in-flight slot of each pledge whose payment is COMPLETED
    or FAILED, and posts the driver's webhooks for a share of the payments as the provider's copies would arrive:
    - when a declined card's payment is first seen PENDING: `payment.failed` (new event id) as a burst of concurrent
      copies, racing each other (and the provider's own answer) to apply;
    - when a card payment is first seen CAPTURED or COMPLETED: `payment.completed` (new event id) as a burst of
      concurrent copies, then `payment.captured` and `payment.authorized` (new ids), i.e. in reverse order;
    - when a payment is first seen COMPLETED or FAILED: the provider event that made it so, again, as a burst.
    Each is what the sandbox says or would say (its test cards decline pm_card_chargeDeclined at authorization; a
    captured payment is settled at once)."""

    def __init__(self, driver: Driver, interval: float = 1.0) -> None:
        self.driver = driver
        self.interval = interval
        self.dynamodb = aws_client(driver.aws_endpoint, "dynamodb")
        self.table = table_name(driver.aws_endpoint, "PaymentsTable")
        self.payments: dict[str, dict] = {}       # payment id -> {state, pledge_id, provider_ref, amount_cents}
        self.events: dict[str, list[dict]] = defaultdict(list)   # payment id -> provider EVENT# items
        self.done: set[tuple[str, str]] = set()   # (payment id, action)
        self.posts: list[WebhookPost] = []
        self.bursts: list[dict] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.pool = ThreadPoolExecutor(16, thread_name_prefix="webhooks")
        self.pending: list[Future] = []
        self.thread = threading.Thread(target=self._loop, name="payment-watcher", daemon=True)
        self.last_progress = time.monotonic()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)
        wait(self.pending, timeout=120)
        self.pool.shutdown(wait=True, cancel_futures=False)

    def terminal_pledges(self) -> set[str]:
        with self.lock:
            return {p["pledge_id"] for p in self.payments.values() if p["state"] in TERMINAL}

    def wait_settled(self, pledge_ids: set[str], deadline: float, stall_seconds: float = 180) -> bool:
        """Until every pledge's payment is COMPLETED or FAILED; gives up at `deadline`, or once none settled for
        `stall_seconds` (longer than a workflow's every timeout and reconciliation): the checks then say which."""
        last_missing, progressed = None, time.monotonic()
        while True:
            missing = pledge_ids - self.terminal_pledges()
            if not missing:
                return True
            now = time.monotonic()
            if last_missing is None or len(missing) < last_missing:
                last_missing, progressed = len(missing), now
            if now > deadline or now - progressed > stall_seconds:
                self.driver.progress(f"chaos: {len(missing)} pledge(s) not settled "
                                     f"({'deadline' if now > deadline else f'none settled for {stall_seconds:.0f} s'})"
                                     f": {sorted(missing)[:5]}")
                return False
            self.stopped.wait(0.5)  # the watcher's next scan

    # ------------------------------------------------------------------ scanning
    def _scan(self) -> list[dict]:
        request = {"TableName": self.table, "ConsistentRead": True,
                   "ProjectionExpression": "#pk, #entity, #state, #pledge, #ref, #amount, #payment, #event",
                   "ExpressionAttributeNames": {"#pk": "pk", "#entity": "entity", "#state": "state",
                                                "#pledge": "pledge_id", "#ref": "provider_ref",
                                                "#amount": "amount_cents", "#payment": "payment_id",
                                                "#event": "event_id"}}
        items = []
        while True:
            page = self.dynamodb.scan(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                self._observe(self._scan())
            except Exception as error:  # noqa: BLE001 - a slow scan under load: read again next time
                self.driver.progress(f"chaos: payments scan failed ({error}); again")
            self.stopped.wait(self.interval)

    def _observe(self, items: list[dict]) -> None:
        ours = self.driver.order_of_pledge
        payments, events = {}, defaultdict(list)
        for item in items:
            value = {k: next(iter(v.values())) for k, v in item.items()}
            if value.get("entity") == "PAYMENT":
                payments[value["pk"].split("#", 1)[1]] = value
            elif value.get("entity") == "EVENT" and str(value.get("event_id", "")).startswith("evt_"):
                events[value["payment_id"]].append(value)
        with self.lock:
            self.payments = {pid: {"state": p.get("state"), "pledge_id": p.get("pledge_id"),
                                   "provider_ref": p.get("provider_ref"), "amount_cents": int(p.get("amount_cents", 0))}
                             for pid, p in payments.items()}
            self.events = events
        for payment_id, payment in self.payments.items():
            order = ours.get(payment["pledge_id"])
            if order is None:
                continue
            if payment["state"] in TERMINAL:
                self.driver.release(payment["pledge_id"])
            if random.Random(f"{self.driver.workload.seed}:{payment_id}").random() >= self.driver.workload.webhook_share:
                continue
            if payment["state"] == "PENDING" and order.payment_method == DECLINED:
                self._once(payment_id, "race", lambda p=payment_id, v=payment: self._race_decline(p, v))
            if payment["state"] in ("CAPTURED", "COMPLETED") and order.payment_method == VISA:
                self._once(payment_id, "reverse", lambda p=payment_id, v=payment: self._reverse(p, v))
            if payment["state"] in TERMINAL:
                self._once(payment_id, "resend", lambda p=payment_id, v=payment: self._resend(p, v))
        if time.monotonic() - self.last_progress > 15:
            self.last_progress = time.monotonic()
            states = Counter(p["state"] for p in self.payments.values())
            self.driver.progress(f"chaos: payments {dict(states)}; {len(self.driver.holding)} in flight; "
                                 f"{len(self.posts)} driver webhooks")

    def _once(self, payment_id: str, action: str, run: Callable[[], None]) -> None:
        if (payment_id, action) in self.done:
            return
        self.done.add((payment_id, action))
        self.pending.append(self.pool.submit(run))

    # ------------------------------------------------------------------ posting
    def _event(self, payment_id: str, payment: dict, event_type: str, event_id: str | None = None) -> dict:
        return {"id": event_id or f"{DRIVER_EVENT_PREFIX}{uuid.uuid4().hex}", "type": event_type,
                "created": int(time.time()), "data": {"payment_id": payment_id, "amount": payment["amount_cents"],
                                                      **({"provider_ref": payment["provider_ref"]}
                                                         if payment.get("provider_ref") else {})}}

    def _post(self, event: dict, purpose: str) -> WebhookPost:
        deadline, status, applied = time.monotonic() + 60, 0, None
        session = requests.Session()
        while True:
            try:
                response = post_webhook(self.driver.base_url, event, session=session)
                status = response.status_code
                applied = response.json().get("applied") if status == 200 else None
            except (requests.RequestException, ValueError):
                status = 0
            if status in (0, 409, 429, 500, 502, 503, 504) and time.monotonic() < deadline:
                time.sleep(0.5)  # a provider's retry after a refusal
                continue
            break
        post = WebhookPost(event["id"], event["type"], event["data"]["payment_id"], purpose, status, applied)
        with self.lock:
            self.posts.append(post)
        return post

    def _burst(self, event: dict, purpose: str) -> None:
        """`burst_width` copies of one event at once: the same event id racing itself."""
        width = self.driver.workload.burst_width
        barrier = threading.Barrier(width)

        def copy(_):
            try:
                barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass
            return self._post(event, purpose)

        with ThreadPoolExecutor(width) as copies:
            list(copies.map(copy, range(width)))
        with self.lock:
            self.bursts.append({"event_id": event["id"], "copies": width, "purpose": purpose})

    def _reverse(self, payment_id: str, payment: dict) -> None:
        self._burst(self._event(payment_id, payment, "payment.completed"), "burst")
        self._post(self._event(payment_id, payment, "payment.captured"), "reverse")
        self._post(self._event(payment_id, payment, "payment.authorized"), "reverse")

    def _race_decline(self, payment_id: str, payment: dict) -> None:
        """A declined card's `payment.failed` (new event id) as concurrent copies while the payment is still PENDING:
        every copy may apply, so they race on the event's record and the payment's version; one wins."""
        event = self._event(payment_id, payment, "payment.failed")
        event["data"]["reason"] = "card_declined"
        self._burst(event, "race")

    def _resend(self, payment_id: str, payment: dict) -> None:
        """The provider event that made the payment final, again: copies of it only ever meet that same state, so
        they are duplicates (never stale: the stale count stays the provider's own reordering)."""
        with self.lock:
            final = [e for e in self.events.get(payment_id, []) if e.get("state") == payment["state"]
                     and not e["event_id"].startswith(DRIVER_EVENT_PREFIX)]
        for event in final:
            self._burst(self._event(payment_id, payment, STATE_EVENT[event["state"]], event["event_id"]), "resend")


# ====================================================================================== waiting for a quiet pipeline
def running_payment_workflows(aws_endpoint: str) -> int:
    sfn = aws_client(aws_endpoint, "stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == PAYMENT_STATE_MACHINE)
    count, token = 0, None
    while True:
        page = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING",
                                   maxResults=1000, **({"nextToken": token} if token else {}))
        count += len(page["executions"])
        token = page.get("nextToken")
        if not token:
            return count


def dead_letters(aws_endpoint: str, queue_name: str) -> list[dict]:
    """The messages a queue holds, read without taking them (visibility 0), deduplicated by message id."""
    sqs = aws_client(aws_endpoint, "sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    expected = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                   ["Attributes"]["ApproximateNumberOfMessages"])
    seen: dict[str, dict] = {}
    for _ in range(max(3, expected * 3)):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                           WaitTimeSeconds=0).get("Messages", []):
            seen[message["MessageId"]] = message
        if len(seen) >= expected:
            break
    return list(seen.values())


def queue_rows(base_url: str) -> list[dict]:
    return ops(base_url)["queues"]


def payments_dead_letter_queue(base_url: str) -> dict:
    return next(q for q in queue_rows(base_url) if "PaymentsQueue" in q.get("dead_letter_for", []))


def wait_for_quiet(base_url: str, aws_endpoint: str, poison: dict | None = None, *, quiet_seconds: float = 3.0,
                   timeout: float = 180, progress: Callable[[str], None] = print) -> float:
    """Waits until the poison message (if any) is in the payments DLQ, and then until no function runs and none
    started for `quiet_seconds`, no source queue holds a message, every stream poller caught up and no payment
    workflow runs (GET /_local/ops/data and the AWS endpoint). Returns how long it waited; raises after `timeout`."""
    started = time.monotonic()
    deadline = started + timeout
    dlq = payments_dead_letter_queue(base_url)["queue_name"]
    while poison and not any(poison["marker"] in m["Body"] for m in dead_letters(aws_endpoint, dlq)):
        if time.monotonic() > deadline:
            progress("chaos: the poison message did not reach the payments DLQ in time")
            break
        time.sleep(1.0)  # the next look at the DLQ
    last_counts, quiet_since, busy = None, time.monotonic(), ["?"]
    while True:
        data = ops(base_url)
        counts = {name: f["invocations"] for name, f in data["functions"].items()}
        busy = [name for name, f in data["functions"].items() if f["workers"] != f["idle"]]
        busy += [q["name"] for q in data["queues"] if not q.get("failure_queue")
                 and (q.get("visible") or 0) + (q.get("in_flight") or 0) + (q.get("delayed") or 0)]
        busy += [s["mapping"] for s in data["streams"] if not s.get("caught_up")]
        now = time.monotonic()
        if busy or counts != last_counts:
            last_counts, quiet_since = counts, now
        elif now - quiet_since >= quiet_seconds:
            running = running_payment_workflows(aws_endpoint)
            if not running:
                return time.monotonic() - started
            busy, quiet_since = [f"{running} payment workflows"], time.monotonic()
        if now > deadline:
            raise TimeoutError(f"the pipeline was not quiet within {timeout} s (busy: {busy})")
        time.sleep(0.3)


# ====================================================================================== the invariants
@dataclass
class InvariantResult:
    number: int
    name: str
    checked: int = 0
    breaches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # observations that are not breaches

    @property
    def held(self) -> bool:
        return not self.breaches

    def breach(self, text: str) -> None:
        self.breaches.append(text)


def _cents(amount: Any) -> int:
    return int((Decimal(str(amount)) * 100).to_integral_value())


def check_invariants(base_url: str, aws_endpoint: str, run: RunRecord, log: str) -> list[InvariantResult]:
    """Every invariant of CONTRACT.md §3 for the run's campaigns, from the tables (consistent scans through the AWS
    endpoint), the API, the queues and the stack log. Returns one result per invariant with its breaches."""
    campaigns = set(run.campaigns)
    pledges = {i["id"]: i for i in scan_table(aws_endpoint, "PledgesTable")
               if i.get("entity") == "PLEDGE" and i.get("campaign_id") in campaigns}
    payment_items = scan_table(aws_endpoint, "PaymentsTable")
    payments = {i["id"]: i for i in payment_items if i.get("entity") == "PAYMENT" and i.get("campaign_id") in campaigns}
    payment_of_pledge = {p["pledge_id"]: p for p in payments.values()}
    events = [i for i in payment_items if i.get("entity") == "EVENT" and i.get("payment_id") in payments]
    totals = {i["campaign_id"]: i for i in scan_table(aws_endpoint, "TotalsTable") if i.get("campaign_id") in campaigns}
    return [_one_pledge_per_key(run, pledges), _forward_only(run, payments, events, log),
            _totals(base_url, run, pledges, payment_of_pledge, totals), _settled(run, pledges, payment_of_pledge),
            _poison_and_the_rest(base_url, aws_endpoint, run, payment_of_pledge, log)]


def _one_pledge_per_key(run: RunRecord, pledges: dict[str, dict]) -> InvariantResult:
    result = InvariantResult(1, "one pledge per (caller, idempotency key)")
    orders = {o.index: o for o in run.orders}
    by_pair: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
    for attempt in run.attempts:
        by_pair[(attempt.scope, attempt.key)].append(attempt)
    result.checked = len(by_pair)
    pledge_of_pair: dict[tuple[str, str], str] = {}
    for pair, attempts in by_pair.items():
        same_body = [a for a in attempts if a.kind != "conflict"]
        ids = {a.pledge_id for a in same_body if a.status == 201}
        if any(a.status != 201 for a in same_body):
            result.breach(f"{pair}: answered {sorted({a.status for a in same_body if a.status != 201})} "
                          f"to the same request")
        if len(ids) != 1:
            result.breach(f"{pair}: {len(ids)} pledge ids answered: {sorted(map(str, ids))}")
            continue
        pledge_id = next(iter(ids))
        pledge_of_pair[pair] = pledge_id
        creators = [a for a in same_body if a.status == 201 and not a.replayed]
        if len(creators) != 1:
            result.breach(f"{pair}: {len(creators)} answers were not marked Idempotent-Replayed (one expected)")
        for conflict in (a for a in attempts if a.kind == "conflict"):
            if conflict.status != 422 or not (conflict.problem_type or "").endswith("idempotency-key-reuse"):
                result.breach(f"{pair}: the key with another body answered {conflict.status} {conflict.problem_type}")
        item = pledges.get(pledge_id)
        order = orders[attempts[0].order]
        if item is None:
            result.breach(f"{pair}: pledge {pledge_id} is not in the pledges table")
            continue
        if item.get("scope") != pair[0] or item.get("campaign_id") != order.campaign_id or \
                int(item.get("amount_cents", -1)) != _cents(order.amount):
            result.breach(f"{pair}: pledge {pledge_id} is {item.get('scope')}/{item.get('campaign_id')}/"
                          f"{item.get('amount_cents')}, not the first request's")
    owners = Counter(pledge_of_pair.values())
    for pledge_id, count in owners.items():
        if count > 1:
            result.breach(f"pledge {pledge_id} answers {count} different (caller, key) pairs")
    for extra in sorted(set(pledges) - set(pledge_of_pair.values())):
        result.breach(f"pledge {extra} exists but no request of the run was answered with it")
    return result


def _forward_only(run: RunRecord, payments: dict[str, dict], events: list[dict], log: str) -> InvariantResult:
    result = InvariantResult(2, "payment states only move forward; each event id applied at most once")
    result.checked = len(payments)
    seen_in_history: Counter = Counter()
    history_entry: dict[str, tuple[str, str]] = {}
    for payment_id, payment in payments.items():
        history = payment.get("history") or []
        if not history:
            if payment.get("state") != "PENDING":
                result.breach(f"payment {payment_id} is {payment.get('state')} with no history")
            continue
        try:
            assert_forward_history(history)
        except AssertionError as error:
            result.breach(f"payment {payment_id}: {error}")
        if history[-1]["to"] != payment.get("state"):
            result.breach(f"payment {payment_id} is {payment.get('state')} but its history ends in {history[-1]['to']}")
        for entry in history:
            seen_in_history[entry["event_id"]] += 1
            history_entry[entry["event_id"]] = (payment_id, entry["to"])
    for event_id, count in seen_in_history.items():
        if count > 1:
            result.breach(f"event {event_id} is in payment histories {count} times")
    recorded = {e["event_id"]: e for e in events}
    for event_id, event in recorded.items():
        if history_entry.get(event_id) != (event["payment_id"], event["state"]):
            result.breach(f"event {event_id} recorded for {event['payment_id']} -> {event['state']} but the history "
                          f"says {history_entry.get(event_id)}")
    for event_id in set(history_entry) - set(recorded):
        result.breach(f"history event {event_id} has no EVENT# record")
    driver_applied = Counter(p.event_id for p in run.webhooks if p.applied)
    for event_id, count in driver_applied.items():
        if count > 1:
            result.breach(f"driver event {event_id} answered applied: true {count} times")
    logged = Counter(r["event_id"] for r in function_records(log, "PaymentsFunction")
                     if r.get("message") == "webhook" and r.get("applied") is True)
    for event_id, count in logged.items():
        if count > 1:
            result.breach(f"webhook event {event_id} logged as applied {count} times")
    return result


def _totals(base_url: str, run: RunRecord, pledges: dict[str, dict], payment_of_pledge: dict[str, dict],
            totals: dict[str, dict]) -> InvariantResult:
    result = InvariantResult(3, "campaign totals equal the sum and count of CAPTURED/COMPLETED pledges")
    expected: dict[str, list[int]] = {c: [] for c in run.campaigns}
    for pledge_id, pledge in pledges.items():
        payment = payment_of_pledge.get(pledge_id)
        if payment and int(payment["amount_cents"]) != int(pledge["amount_cents"]):
            result.breach(f"payment {payment['id']} is {payment['amount_cents']} cents, its pledge "
                          f"{pledge['amount_cents']}")
        if payment and payment.get("state") in COUNTED:
            expected[pledge["campaign_id"]].append(int(pledge["amount_cents"]))
    session = requests.Session()
    for campaign_id in run.campaigns:
        result.checked += 1
        want = (sum(expected[campaign_id]), len(expected[campaign_id]))
        item = totals.get(campaign_id, {})
        stored = (int(item.get("total_cents", 0)), int(item.get("pledge_count", 0)))
        if stored != want:
            result.breach(f"campaign {campaign_id}: totals item says {stored} (cents, count), pledges say {want}")
        answer = session.get(f"{base_url}/campaigns/{campaign_id}/totals", timeout=30)
        if answer.status_code != 200:
            result.breach(f"campaign {campaign_id}: GET totals answered {answer.status_code}")
            continue
        body = answer.json()
        served = (_cents(body["total_amount"]), int(body["pledge_count"]))
        if served != want:
            result.breach(f"campaign {campaign_id}: GET totals says {served} (cents, count), pledges say {want}")
        campaign = session.get(f"{base_url}/campaigns/{campaign_id}", timeout=30).json()
        if campaign.get("current_amount") != body["total_amount"]:
            result.breach(f"campaign {campaign_id}: current_amount {campaign.get('current_amount')} "
                          f"!= total_amount {body['total_amount']}")
    return result


def _settled(run: RunRecord, pledges: dict[str, dict], payment_of_pledge: dict[str, dict]) -> InvariantResult:
    result = InvariantResult(4, "every accepted pledge is COMPLETED or FAILED once idle")
    accepted = set(run.accepted().values())
    result.checked = len(accepted)
    for pledge_id in sorted(accepted):
        pledge = pledges.get(pledge_id)
        payment = payment_of_pledge.get(pledge_id)
        status = pledge.get("status") if pledge else None
        if status not in TERMINAL:
            result.breach(f"pledge {pledge_id} is {status} (payment: {payment.get('state') if payment else None})")
        elif payment is None or payment.get("state") != status:
            result.breach(f"pledge {pledge_id} is {status} but its payment is "
                          f"{payment.get('state') if payment else 'missing'}")
    return result


def _poison_and_the_rest(base_url: str, aws_endpoint: str, run: RunRecord, payment_of_pledge: dict[str, dict],
                         log: str) -> InvariantResult:
    result = InvariantResult(5, "the poison message is in the DLQ; every other message was processed")
    accepted = set(run.accepted().values())
    result.checked = len(accepted) + 1
    rows = queue_rows(base_url)
    dlq = payments_dead_letter_queue(base_url)
    letters = dead_letters(aws_endpoint, dlq["queue_name"])
    marker = run.poison.get("marker", "<no poison sent>")
    if not any(marker in m["Body"] for m in letters):
        result.breach(f"the poison message {marker} is not in {dlq['name']}")
    for message in letters:
        if marker not in message["Body"]:
            result.breach(f"{dlq['name']} also holds {message['Body'][:200]}")
    for row in rows:
        depth = (row.get("visible") or 0) + (row.get("in_flight") or 0) + (row.get("delayed") or 0)
        if row["name"] != dlq["name"] and depth:
            result.breach(f"{row['name']} ({row['kind']}) still holds {depth} message(s)")
    executions = Counter(e["name"] for e in _executions(aws_endpoint))
    for pledge_id in sorted(accepted):
        payment = payment_of_pledge.get(pledge_id)
        if payment is None:
            result.breach(f"pledge {pledge_id}: no payment (its pledge.created was never processed)")
        elif executions[payment["id"]] != 1:
            result.breach(f"payment {payment['id']}: {executions[payment['id']]} workflow executions")
    held_back = sum(str(r.get("errorMessage", "")).count(FIFO_CIRCUIT_BREAKER)
                    for r in function_records(log, "PaymentStarterFunction"))
    if held_back:
        result.notes.append(f"at least {held_back} deliveries of other pledge.created messages were failed "
                            f"unprocessed because an earlier record of their batch failed ({FIFO_CIRCUIT_BREAKER})")
    return result


def _executions(aws_endpoint: str) -> list[dict]:
    sfn = aws_client(aws_endpoint, "stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == PAYMENT_STATE_MACHINE)
    executions, token = [], None
    while True:
        page = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], maxResults=1000,
                                   **({"nextToken": token} if token else {}))
        executions += page["executions"]
        token = page.get("nextToken")
        if not token:
            return executions


# ====================================================================================== the faults
@dataclass
class FaultCount:
    name: str
    count: int
    required: int
    detail: dict = field(default_factory=dict)

    @property
    def enough(self) -> bool:
        return self.count >= self.required


INVOKE = re.compile(r" invoke (?P<function>\S+) source=(?P<source>\S+) (?P<duplicate>\(duplicate\) )?"
                    r".*? (?:ok|error (?P<error>\S+)) ")


def count_faults(log: str, run: RunRecord, minimum: int) -> list[FaultCount]:
    """How often each fault class was injected: the runtime's `invoke` lines (duplicates, chaos crashes), the sandbox
    provider's "webhook planned" lines (drops, duplicates, delays), the payments function's "webhook" lines (stale
    webhooks, i.e. reordered) and the driver's own record (concurrent webhook copies, replays, the poison)."""
    duplicates: Counter = Counter()
    crashes: dict[str, Counter] = {"Chaos.FailBeforeHandler": Counter(), "Chaos.FailAfterHandler": Counter()}
    for match in INVOKE.finditer(log):
        source, function = match["source"], match["function"]
        if match["duplicate"]:
            duplicates[(source, function)] += 1
        if match["error"] in crashes:
            crashes[match["error"]][f"{source}:{function}"] += 1
    planned = [r for r in function_records(log, "SandboxProviderFunction") if r.get("message") == "webhook planned"]
    dropped = Counter(r["event_type"] for r in planned if r.get("dropped"))
    duplicated = Counter(r["event_type"] for r in planned if r.get("copies") == 2)
    delayed = Counter(r["event_type"] for r in planned for d in r.get("delays") or [] if d > 0)
    webhooks = [r for r in function_records(log, "PaymentsFunction") if r.get("message") == "webhook"]
    stale_provider = Counter(r["type"] for r in webhooks if r.get("ignored_because") == "stale"
                             and not str(r.get("event_id")).startswith(DRIVER_EVENT_PREFIX))
    stale_provider_events = {r["event_id"] for r in webhooks if r.get("ignored_because") == "stale"
                             and not str(r.get("event_id")).startswith(DRIVER_EVENT_PREFIX)}
    stale_driver = Counter(r["type"] for r in webhooks if r.get("ignored_because") == "stale"
                           and str(r.get("event_id")).startswith(DRIVER_EVENT_PREFIX))
    burst_copies = Counter(b["purpose"] for b in run.bursts for _ in range(b["copies"] - 1))
    applied_copies = Counter(p.event_id for p in run.webhooks if p.applied)
    races_won = sum(1 for b in run.bursts if applied_copies[b["event_id"]] == 1)
    replays = Counter(a.kind for a in run.attempts if a.replayed)

    def by(counter: Counter, source: str) -> dict:
        return {f: n for (s, f), n in sorted(counter.items()) if s == source}

    return [
        FaultCount("duplicate stream deliveries", sum(by(duplicates, "stream").values()), minimum,
                   by(duplicates, "stream")),
        FaultCount("duplicate SQS deliveries", sum(by(duplicates, "sqs").values()), minimum, by(duplicates, "sqs")),
        FaultCount("crashes before the handler", sum(crashes["Chaos.FailBeforeHandler"].values()), minimum,
                   dict(sorted(crashes["Chaos.FailBeforeHandler"].items()))),
        FaultCount("crashes after the handler", sum(crashes["Chaos.FailAfterHandler"].values()), minimum,
                   dict(sorted(crashes["Chaos.FailAfterHandler"].items()))),
        FaultCount("provider duplicate webhooks", sum(duplicated.values()), minimum, dict(duplicated)),
        FaultCount("provider dropped webhooks", sum(dropped.values()), minimum, dict(dropped)),
        FaultCount("provider delayed webhooks", sum(delayed.values()), minimum, dict(delayed)),
        FaultCount("reordered webhooks (provider, ignored as stale)", sum(stale_provider.values()), minimum,
                   {**dict(stale_provider), "distinct events": len(stale_provider_events)}),
        FaultCount("reverse-order webhooks (driver, ignored as stale)", sum(stale_driver.values()), minimum,
                   dict(stale_driver)),
        FaultCount("concurrent duplicate webhooks (driver)", sum(burst_copies.values()), minimum,
                   {**dict(burst_copies), "bursts with one copy applied": races_won}),
        FaultCount("idempotent replays (driver)", sum(replays.values()), minimum,
                   {**dict(replays), "IdempotentReplays metric": metric_total(log, "PledgesFunction",
                                                                              "IdempotentReplays")}),
        FaultCount("poison messages", 1 if run.poison else 0, 1, {k: v for k, v in run.poison.items()
                                                                   if k != "sent_at"}),
    ]


# ====================================================================================== one whole run, and its report
@dataclass
class ChaosResult:
    run: RunRecord
    faults: list[FaultCount]
    invariants: list[InvariantResult]
    workload: Workload
    settings: ChaosSettings
    duration_seconds: float
    quiet_wait_seconds: float | None

    @property
    def ok(self) -> bool:
        return all(i.held for i in self.invariants) and all(f.enough for f in self.faults)

    def outcomes(self) -> dict[str, Any]:
        statuses = Counter(a.status for a in self.run.attempts)
        return {"requests": len(self.run.attempts), "answers": {str(k): v for k, v in sorted(statuses.items())},
                "pledges_accepted": len(self.run.accepted()), "driver_webhooks": len(self.run.webhooks),
                "driver_webhooks_applied": sum(1 for p in self.run.webhooks if p.applied)}

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "duration_seconds": round(self.duration_seconds, 1),
            "timings_seconds": {k: round(v, 1) for k, v in self.run.timings.items()},
            "quiet_wait_seconds": None if self.quiet_wait_seconds is None else round(self.quiet_wait_seconds, 1),
            "workload": asdict(self.workload),
            "chaos": {**asdict(self.settings), "env": self.settings.env()},
            "outcomes": self.outcomes(),
            "faults": [{"class": f.name, "count": f.count, "required": f.required, "enough": f.enough,
                        "detail": f.detail} for f in self.faults],
            "invariants": [{"number": i.number, "name": i.name, "checked": i.checked, "breaches": len(i.breaches),
                            "held": i.held, "examples": i.breaches[:20], "notes": i.notes} for i in self.invariants],
        }


def run_chaos(stack: RunningStack, workload: Workload, settings: ChaosSettings,
              progress: Callable[[str], None] = print) -> ChaosResult:
    """Drives `workload` against a running chaos stack, waits for it to settle, checks and counts."""
    started = time.monotonic()
    driver = Driver(stack.base_url, stack.aws_endpoint, stack.admin_email, stack.admin_password, workload, settings,
                    progress)
    run = driver.run()
    quiet = None
    try:
        quiet = wait_for_quiet(stack.base_url, stack.aws_endpoint, run.poison, timeout=workload.quiet_timeout,
                               progress=progress)
    except TimeoutError as error:  # check anyway: the invariants say what did not settle
        progress(f"chaos: {error}")
    run.timings["quiet"] = time.monotonic() - started  # like the others: seconds since the run began
    log = stack.log()
    invariants = check_invariants(stack.base_url, stack.aws_endpoint, run, log)
    faults = count_faults(log, run, workload.min_faults)
    return ChaosResult(run, faults, invariants, workload, settings, time.monotonic() - started, quiet)


def render(result: ChaosResult) -> str:
    lines = ["", "Faults injected", f"  {'class':<52} {'count':>7} {'required':>9}  "]
    for fault in result.faults:
        lines.append(f"  {fault.name:<52} {fault.count:>7} {fault.required:>9}  {'ok' if fault.enough else 'TOO FEW'}")
    lines += ["", "Invariants (CONTRACT.md §3)", f"  {'invariant':<72} {'checked':>8} {'breaches':>9}"]
    for inv in result.invariants:
        lines.append(f"  {inv.number}. {inv.name:<69} {inv.checked:>8} {len(inv.breaches):>9}  "
                     f"{'held' if inv.held else 'BROKEN'}")
        lines += [f"       - {b}" for b in inv.breaches[:10]]
        lines += [f"       note: {n}" for n in inv.notes]
    outcomes = result.outcomes()
    lines += ["", f"{outcomes['requests']} pledge requests (answers {outcomes['answers']}), "
                  f"{outcomes['pledges_accepted']} pledges, {outcomes['driver_webhooks']} driver webhooks; "
                  f"run {result.duration_seconds:.0f} s (at " +
              ", ".join(f"{v:.0f} s {k}" for k, v in result.run.timings.items()) + ")",
              "chaos: " + ("every invariant held and every fault class was injected often enough" if result.ok
                           else "FAILED")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pledges", type=int, help=f"pledge orders (default {FULL.pledges})")
    parser.add_argument("--short", action="store_true", help="the short workload of `make test`")
    parser.add_argument("--min-faults", type=int, help="each fault class at least this often")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "chaos.json", help="where the report goes")
    parser.add_argument("--log-dir", type=Path, default=REPO_ROOT / "test-artifacts" / "chaos",
                        help="the stack's log and stream checkpoints")
    args = parser.parse_args(argv)
    workload = SHORT if args.short else FULL
    if args.pledges:
        workload = replace(workload, pledges=args.pledges)
    if args.min_faults is not None:
        workload = replace(workload, min_faults=args.min_faults)
    settings = ChaosSettings()
    log_dir = args.log_dir / datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"chaos: starting a local stack with the chaos switches on (log in {log_dir})", flush=True)
    stack = start_stack(log_dir, {**settings.env(), "CAREFORALL_STATE_DIR": str(log_dir / "state")})
    try:
        result = run_chaos(stack, workload, settings, progress=lambda line: print(line, flush=True))
    finally:
        code = stack.stop()
        if code:
            print(f"chaos: the stack exited with {code} (log: {stack.log_path})", flush=True)
    print(render(result))
    args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    print(f"chaos: report in {args.json}, stack log in {stack.log_path}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
