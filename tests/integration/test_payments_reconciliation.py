"""Lost webhooks: every accepted pledge still reaches COMPLETED or FAILED (CONTRACT.md, invariant 4).

The sandbox provider runs on autopilot but drops every webhook (SandboxWebhookDropRate=1), so each wait of the
payment workflow times out (PaymentStepTimeoutSeconds) and the workflow asks the provider itself (reconciliation,
ReconcileIntervalSeconds apart), or takes the provider's synchronous answer (a decline).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import run_stack
from tests.integration.helpers import (TERMINAL_PAYMENT_STATES, assert_forward_history, metric_total,
                                       payment_executions)

STEP_TIMEOUT_SECONDS = 3
RECONCILE_INTERVAL_SECONDS = 1
MAX_RECONCILE_ATTEMPTS = int(json.loads((Path(__file__).resolve().parents[2] / "stacks" / "local.json")
                                        .read_text())["Parameters"]["MaxReconcileAttempts"])
# The longest the workflow can take to decide: every reconciliation preceded by a timed-out wait or the pause
# between two reconciliations, plus the relay, the starter and the projector (a few seconds) and headroom.
SETTLE_DEADLINE_SECONDS = MAX_RECONCILE_ATTEMPTS * (STEP_TIMEOUT_SECONDS + RECONCILE_INTERVAL_SECONDS) + 20


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    yield from run_stack(tmp_path_factory, "reconciliation", {
        "CAREFORALL_PARAMETER_OVERRIDES": f"SandboxWebhookDropRate=1 PaymentStepTimeoutSeconds={STEP_TIMEOUT_SECONDS} "
                                          f"ReconcileIntervalSeconds={RECONCILE_INTERVAL_SECONDS}"})


@pytest.fixture(scope="module")
def settled(client) -> dict:
    campaign = client.create_campaign()
    created = {"visa": client.create_pledge(campaign["id"], amount="40.00"),
               "declined": client.create_pledge(campaign["id"], amount="3.00",
                                                payment_method="pm_card_chargeDeclined")}
    return {name: client.wait_for_pledge(
        pledge["id"], lambda p: p["status"] != "PENDING"
        and (p.get("payment") or {}).get("state") in TERMINAL_PAYMENT_STATES,
        timeout=SETTLE_DEADLINE_SECONDS, what=f"the {name} pledge settling without webhooks")
        for name, pledge in created.items()}


def assert_no_webhook_arrived(client) -> None:
    log = client.log()
    assert metric_total(log, "SandboxWebhookSenderFunction", "SandboxWebhooksDelivered") == 0
    assert "POST /webhooks/payments" not in log


def test_create_pledge_with_every_webhook_dropped_completes_through_reconciliation(client, settled):
    pledge = settled["visa"]
    assert pledge["status"] == "COMPLETED" and pledge["payment"]["state"] == "COMPLETED"

    payment = client.payment(pledge["payment"]["id"])

    assert payment["state"] == "COMPLETED"
    entered = assert_forward_history(payment["history"])
    assert entered[0] == "AUTHORIZED" and entered[-1] == "COMPLETED"
    assert any(e["event_id"].startswith("reconcile:") for e in payment["history"]), payment["history"]
    assert all(e["event_id"].startswith(("reconcile:", "provider:")) for e in payment["history"]), payment["history"]
    assert_no_webhook_arrived(client)
    [execution] = [e for e in payment_executions(client.stack.aws_endpoint) if e["name"] == payment["id"]]
    assert execution["status"] in ("RUNNING", "SUCCEEDED")  # it may still be on its way to its final state


def test_create_pledge_with_declined_card_and_webhooks_dropped_ends_failed(client, settled):
    pledge = settled["declined"]
    assert pledge["status"] == "FAILED" and pledge["payment"]["state"] == "FAILED"

    payment = client.payment(pledge["payment"]["id"])

    assert payment["state"] == "FAILED" and payment["failure_reason"] == "card_declined"
    assert [(e["from"], e["to"]) for e in payment["history"]] == [("PENDING", "FAILED")]
    assert payment["history"][0]["event_id"].startswith(("reconcile:", "provider:")), payment["history"]
    assert_no_webhook_arrived(client)
