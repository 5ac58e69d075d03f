"""The totals read model against the real local stack (CONTRACT.md "Totals", invariant 3).

- Under chaos (every stream batch delivered twice, a fifth of the aggregator's, projector's and realtime
  function's invocations crashing after their handler ran), a few hundred pledges with random outcomes end with
  every campaign's totals equal to the sum and number of its COMPLETED pledges, exactly one receipt per completed
  pledge and one goal note per campaign that reached its goal.
- The aggregator writes a campaign's totals item at most once per batch (its "totals applied" log lines).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from tests.integration.conftest import run_stack
from tests.integration.helpers import (all_mail, amount_cents, assert_json, aws_client, function_records, poll,
                                       scan_table, table_name, wait_until_idle)

PLEDGES = 300
CLIENT_THREADS = 8
IN_FLIGHT = 32  # unsettled pledges at most (see PledgeLoad)
SEED = 20250301
SETTLE_TIMEOUT = 420  # every pledge COMPLETED or FAILED within this, from the first request: a deadline, not a speed target (make bench has those)
CHAOS = {
    "CAREFORALL_CHAOS_DUPLICATE": "1",
    "CAREFORALL_CHAOS_FAIL_AFTER": "0.2",
    "CAREFORALL_CHAOS_FUNCTIONS": "TotalsAggregatorFunction,PaymentProjectorFunction,RealtimeFunction",
    "CAREFORALL_CHAOS_SEED": "7",
    "CAREFORALL_LOCAL_MAX_CONCURRENCY": "4",
}
AGGREGATOR = "TotalsAggregatorFunction"
COUNTED = ("CAPTURED", "COMPLETED")

pytestmark = pytest.mark.timeout(660)  # the chaos stack's start and its few hundred pledges run in the first test


def cents(amount: str | Decimal) -> int:
    return amount_cents(str(amount))


def aggregator_writes(log: str) -> list[dict[str, int]]:
    """The `writes` (campaign id -> totals writes) of every aggregator invocation, as it logged them."""
    return [record["writes"] for record in function_records(log, AGGREGATOR)
            if record.get("message") == "totals applied"]


def pledge_items(endpoint: str, pledge_ids: set[str]) -> dict[str, dict]:
    return {item["id"]: item for item in scan_table(endpoint, "PledgesTable")
            if item.get("entity") == "PLEDGE" and item["id"] in pledge_ids}


class PledgeLoad:
    """Makes pledges from many client threads, with at most `in_flight` of them unsettled at a time.

    The local stack runs each payment workflow task through a thread of its AWS emulator (64) while the task
    waits for a function worker (4 per function here): hundreds of workflows started at once hold every thread
    and starve the functions' own AWS calls. A donor-facing load this size is spread over time anyway.
    A watcher thread reads the pledges' statuses from the pledges table (one scan a second, projected).
    """

    def __init__(self, stack, in_flight: int) -> None:
        self.stack = stack
        self.slots = threading.BoundedSemaphore(in_flight)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.pending: set[str] = set()
        self.settled: dict[str, str] = {}
        self.stopped = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="pledge-watcher", daemon=True)
        self.dynamodb = aws_client(stack.aws_endpoint, "dynamodb")
        self.table = table_name(stack.aws_endpoint, "PledgesTable")

    def __enter__(self) -> "PledgeLoad":
        self.watcher.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.watcher.join(timeout=30)

    def create(self, order: dict) -> dict:
        """POSTs one pledge (retrying a 409/5xx with the same Idempotency-Key, as a client should)."""
        self.slots.acquire()
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        body = {k: v for k, v in order.items() if k != "campaign_id"}
        headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
        for attempt in range(5):
            response = session.post(f"{self.stack.base_url}/campaigns/{order['campaign_id']}/pledges", json=body,
                                    headers=headers, timeout=60)
            if response.status_code not in (409, 502, 503, 504):
                break
            time.sleep(0.5 * 2 ** attempt)  # a retry's back-off, not a wait for a condition
        pledge = {**assert_json(response, 201), "payment_method": order["payment_method"]}
        with self.lock:
            self.pending.add(pledge["id"])
        return pledge

    def _statuses(self) -> dict[str, str]:
        request = {"TableName": self.table, "ProjectionExpression": "id, #s", "ConsistentRead": True,
                   "ExpressionAttributeNames": {"#s": "status"}}
        statuses = {}
        while True:
            page = self.dynamodb.scan(**request)
            statuses.update({i["id"]["S"]: i["status"]["S"] for i in page["Items"] if "status" in i and "id" in i})
            if "LastEvaluatedKey" not in page:
                return statuses
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _watch(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                statuses = self._statuses()
            except Exception:  # noqa: BLE001 - a slow scan under load: read again next second
                continue
            with self.lock:
                done = {p for p in self.pending if statuses.get(p) in ("COMPLETED", "FAILED")}
                self.pending -= done
                self.settled.update({p: statuses[p] for p in done})
            for _ in done:
                self.slots.release()

    def wait_until_settled(self, deadline: float) -> dict[str, str]:
        def settled():
            with self.lock:
                return dict(self.settled) if not self.pending else None

        return poll(settled, timeout=max(0.0, deadline - time.monotonic()), interval=0.5,
                    what=f"every pledge COMPLETED or FAILED (pending: {len(self.pending)})")


def receipts_by_pledge(messages: list[dict], pledge_ids: set[str]) -> Counter:
    counts: Counter = Counter()
    for message in messages:
        if "receipt" not in (message.get("subject") or "").lower():
            continue
        for pledge_id in pledge_ids:
            if pledge_id in (message.get("text") or ""):
                counts[pledge_id] += 1
    return counts


def goal_notes_by_campaign(messages: list[dict], campaign_ids: list[str], owner_email: str) -> Counter:
    return Counter(c for m in messages for c in campaign_ids
                   if "goal" in (m.get("subject") or "") and c in (m.get("text") or "")
                   and owner_email in (m.get("to") or []))


# ---------------------------------------------------------------------------------------- the chaos stack
@pytest.fixture(scope="module")
def chaos(tmp_path_factory):
    yield from run_stack(tmp_path_factory, "totals-chaos", CHAOS)


@pytest.fixture(scope="module")
def chaos_run(chaos):
    """PLEDGES pledges (random campaign, amount and card; fixed seed) made concurrently, then the pipeline
    left to settle. Returns what the assertions need, and prints the timings."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    # One campaign reaches its goal early; the others never do.
    campaigns = [chaos.create_campaign(goal_amount="500.00")["id"]] + [
        chaos.create_campaign(goal_amount="1000000.00")["id"] for _ in range(2)]
    rng = random.Random(SEED)
    plan = [{"campaign_id": rng.choice(campaigns), "amount": f"{rng.randint(1, 100_000) / 100:.2f}",
             "payment_method": rng.choice(["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"]),
             "donor_email": f"chaos-{i}-{uuid.uuid4().hex[:8]}@example.com"} for i in range(PLEDGES)]
    with PledgeLoad(chaos.stack, IN_FLIGHT) as load, ThreadPoolExecutor(CLIENT_THREADS) as pool:
        pledges = list(pool.map(load.create, plan))
        timings["create"] = time.monotonic() - started
        load.wait_until_settled(deadline=started + SETTLE_TIMEOUT)
    ids = {p["id"] for p in pledges}
    timings["settle"] = time.monotonic() - started
    timings["idle_wait"] = wait_until_idle(chaos.stack.base_url, timeout=120)
    timings["total"] = time.monotonic() - started
    items = pledge_items(chaos.stack.aws_endpoint, ids)  # as they are once idle
    print(f"\n{PLEDGES} pledges under chaos: created in {timings['create']:.1f} s, all settled after "
          f"{timings['settle']:.1f} s, idle {timings['idle_wait']:.1f} s later; total {timings['total']:.1f} s; "
          f"statuses {dict(Counter(i['status'] for i in items.values()))}")
    return {"campaigns": campaigns, "pledges": pledges, "items": items}


def test_pledges_under_chaos_each_end_completed_or_failed_by_card(chaos_run):
    items = chaos_run["items"]
    outcomes = Counter((p["payment_method"], items[p["id"]]["status"]) for p in chaos_run["pledges"])

    assert set(outcomes) <= {("pm_card_visa", "COMPLETED"), ("pm_card_chargeDeclined", "FAILED")}, outcomes
    for pledge in chaos_run["pledges"]:
        item = items[pledge["id"]]
        assert item["payment"]["state"] == item["status"]
        assert int(item["amount_cents"]) == cents(pledge["amount"])


def test_totals_under_duplicates_and_crashes_equal_sum_of_completed_pledges(chaos, chaos_run):
    expected: dict[str, list[int]] = defaultdict(list)
    for item in chaos_run["items"].values():
        if item["status"] == "COMPLETED":
            expected[item["campaign_id"]].append(int(item["amount_cents"]))
    assert sum(len(v) for v in expected.values()) >= PLEDGES // 2  # random outcomes, most of them captured
    counted_payments: dict[str, list[int]] = defaultdict(list)  # the invariant's own words: CAPTURED or COMPLETED
    ours = {item["payment"]["id"] for item in chaos_run["items"].values()}
    for payment in scan_table(chaos.stack.aws_endpoint, "PaymentsTable"):
        if payment.get("entity") == "PAYMENT" and payment["id"] in ours and payment["state"] in COUNTED:
            counted_payments[payment["campaign_id"]].append(int(payment["amount_cents"]))
    assert {c: sorted(v) for c, v in counted_payments.items()} == {c: sorted(v) for c, v in expected.items()}

    for campaign_id in chaos_run["campaigns"]:
        totals = assert_json(chaos.api.get(f"/campaigns/{campaign_id}/totals"), 200)
        campaign = assert_json(chaos.api.get(f"/campaigns/{campaign_id}"), 200)

        assert (cents(totals["total_amount"]), totals["pledge_count"]) == (
            sum(expected[campaign_id]), len(expected[campaign_id])), campaign_id
        assert campaign["current_amount"] == totals["total_amount"]


def test_totals_under_chaos_written_at_most_once_per_batch_per_campaign(chaos, chaos_run):
    writes = aggregator_writes(chaos.log())

    per_invocation = Counter(n for invocation in writes for n in invocation.values())
    assert writes, "the aggregator logged no 'totals applied'"
    assert set(per_invocation) <= {0, 1}, per_invocation
    assert per_invocation[0] > 0  # the duplicated deliveries: their payments were already in the ledger


def test_receipts_under_chaos_exactly_one_per_completed_pledge(chaos, chaos_run):
    items = chaos_run["items"]
    completed = {i for i, item in items.items() if item["status"] == "COMPLETED"}
    failed = set(items) - completed

    counts = receipts_by_pledge(all_mail(chaos.stack.base_url), set(items))

    assert {i: counts[i] for i in completed if counts[i] != 1} == {}
    assert {i: counts[i] for i in failed if counts[i]} == {}


def test_goal_note_under_chaos_sent_once_for_campaign_reaching_goal(chaos, chaos_run):
    notes = goal_notes_by_campaign(all_mail(chaos.stack.base_url), chaos_run["campaigns"], chaos.stack.admin_email)

    assert notes == {chaos_run["campaigns"][0]: 1}


# ---------------------------------------------------------------------------------------- the session stack
def test_pledges_for_two_campaigns_write_each_totals_item_once_per_batch(session_client):
    campaigns = [session_client.create_campaign()["id"] for _ in range(2)]
    orders = [(campaigns[i % 2], f"{10 + i}.{i:02d}") for i in range(16)]
    with ThreadPoolExecutor(4) as pool:
        pledges = list(pool.map(lambda order: session_client.create_pledge(order[0], amount=order[1]), orders))
    for pledge in pledges:
        session_client.wait_for_pledge(pledge["id"], lambda p: p["status"] != "PENDING", timeout=120,
                                       what="the pledge's outcome")

    def settled_totals():
        totals = [assert_json(session_client.api.get(f"/campaigns/{c}/totals"), 200) for c in campaigns]
        return totals if [t["pledge_count"] for t in totals] == [8, 8] else None

    totals = poll(settled_totals, timeout=30, interval=0.2, what="both campaigns' totals")
    wait_until_idle(session_client.stack.base_url)

    ours = [{c: n for c, n in w.items() if c in campaigns} for w in aggregator_writes(session_client.log())]
    ours = [w for w in ours if w]
    assert ours, "no aggregator invocation touched the campaigns"
    assert all(n <= 1 for w in ours for n in w.values()), ours
    for campaign_id, total in zip(campaigns, totals):
        assert sum(w.get(campaign_id, 0) for w in ours) >= 1
        assert cents(total["total_amount"]) == sum(cents(a) for c, a in orders if c == campaign_id)
