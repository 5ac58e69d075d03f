"""Issue 7 in the payments logic and adapters: why an event was ignored, the donation's correlation id and
trace header kept on the payment, and handed to the provider and to Step Functions."""

from __future__ import annotations

import io
import json

import pytest

from payments_service.dal import LambdaPaymentProvider, StepFunctionsStarter
from payments_service.transitions import PaymentState

P, A, C, D, F = (PaymentState.PENDING, PaymentState.AUTHORIZED, PaymentState.CAPTURED, PaymentState.COMPLETED,
                 PaymentState.FAILED)
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:careforall-payment"


# ---------------------------------------------------------------------------------------- apply: ignored_because
def test_apply_forward_move_is_applied_and_not_ignored(service, payment):
    result = service.apply(payment.id, A, event_id="evt_a")

    assert (result.applied, result.ignored_because) == (True, None)


def test_apply_target_equal_to_current_state_is_ignored_as_duplicate(service, payment):
    service.apply(payment.id, A, event_id="evt_a1")

    result = service.apply(payment.id, A, event_id="evt_a2")

    assert (result.applied, result.ignored_because) == (False, "duplicate")


def test_apply_same_event_redelivered_is_ignored_as_duplicate(service, payment):
    service.apply(payment.id, A, event_id="evt_a")

    result = service.apply(payment.id, A, event_id="evt_a")

    assert (result.applied, result.ignored_because) == (False, "duplicate")


def test_apply_event_id_already_applied_with_forward_target_is_ignored_as_duplicate(service, repo, payment):
    # GIVEN an event id already applied (AUTHORIZED)
    service.apply(payment.id, A, event_id="evt_reused")

    # WHEN the same event id comes again naming a later state
    result = service.apply(payment.id, C, event_id="evt_reused")

    # THEN the write finds the event recorded: a duplicate, nothing moved
    assert (result.applied, result.ignored_because) == (False, "duplicate")
    assert repo.items[payment.id].state is A


@pytest.mark.parametrize(("reached", "target"), [(C, A), (D, A), (D, C), (A, P)])
def test_apply_earlier_state_is_ignored_as_stale(service, payment, reached, target):
    service.apply(payment.id, reached, event_id="evt_reached")

    result = service.apply(payment.id, target, event_id="evt_late")

    assert (result.applied, result.ignored_because) == (False, "stale")


def test_apply_ignored_returns_current_payment(service, payment):
    service.apply(payment.id, C, event_id="evt_c")

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.payment.state is C


# ---------------------------------------------------------------------------------------- correlation on the payment
def test_create_stores_correlation_id_and_trace_header_on_payment(service, repo, make_start):
    payment = service.create(make_start(correlation_id="checkout-42", trace_header=TRACE_HEADER))

    stored = repo.items[payment.id]
    assert (stored.correlation_id, stored.trace_header) == ("checkout-42", TRACE_HEADER)


def test_create_without_correlation_id_or_trace_header_stores_none(service, repo, make_start):
    payment = service.create(make_start())

    assert (repo.items[payment.id].correlation_id, repo.items[payment.id].trace_header) == (None, None)


def test_create_again_with_other_correlation_keeps_the_first(service, repo, make_start):
    first = service.create(make_start(correlation_id="checkout-42", trace_header=TRACE_HEADER))

    service.create(make_start(correlation_id="redelivery-43", trace_header=None))

    assert (repo.items[first.id].correlation_id, repo.items[first.id].trace_header) == ("checkout-42", TRACE_HEADER)


def test_transitions_keep_correlation_id_and_trace_header(service, repo, provider, make_start):
    # GIVEN a payment of a traced donation
    payment = service.create(make_start(correlation_id="checkout-42", trace_header=TRACE_HEADER))

    # WHEN the workflow parks tokens, webhooks move it, and reconciliation finishes it
    service.authorize(payment.id, "tok-auth")
    service.apply(payment.id, A, event_id="evt_a")
    service.capture(payment.id, "tok-cap")
    service.apply(payment.id, C, event_id="evt_c")
    provider.answer("status", "completed")
    service.reconcile(payment.id)

    # THEN every saved version still names the donation
    assert repo.items[payment.id].state is D
    assert len(repo.saves) >= 5
    assert {(saved.correlation_id, saved.trace_header) for saved in repo.saves} == {("checkout-42", TRACE_HEADER)}


def test_fail_keeps_correlation_id_and_trace_header(service, repo, make_start):
    payment = service.create(make_start(correlation_id="checkout-42", trace_header=TRACE_HEADER))

    service.fail(payment.id, "the provider did not confirm the payment in time")

    stored = repo.items[payment.id]
    assert (stored.state, stored.correlation_id, stored.trace_header) == (F, "checkout-42", TRACE_HEADER)


def test_provider_sees_payment_with_its_correlation_id(service, provider, make_start):
    payment = service.create(make_start(correlation_id="checkout-42"))

    service.authorize(payment.id, "tok-auth")

    ((operation, seen),) = provider.calls
    assert (operation, seen.correlation_id) == ("authorize", "checkout-42")


# ---------------------------------------------------------------------------------------- LambdaPaymentProvider
class FakeLambda:
    """The lambda client: records each Invoke's function and decoded Payload, answers `answer`."""

    def __init__(self, answer: dict | None = None) -> None:
        self.answer = answer or {"provider_ref": "pi_test_0001", "status": "pending"}
        self.invocations: list[tuple[str, dict]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict:  # noqa: N803 - boto3's names
        self.invocations.append((FunctionName, json.loads(Payload)))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}


@pytest.mark.parametrize("operation", ["authorize", "capture", "status"])
def test_lambda_provider_request_carries_correlation_id_as_metadata(make_start, service, operation):
    client = FakeLambda()
    payment = service.create(make_start(correlation_id="checkout-42"))

    getattr(LambdaPaymentProvider("careforall-sandbox", client=client), operation)(payment)

    ((function, request),) = client.invocations
    assert function == "careforall-sandbox"
    assert (request["action"], request["payment_id"]) == (operation, payment.id)
    assert request["metadata"] == {"correlation_id": "checkout-42"}


def test_lambda_provider_request_without_correlation_id_has_empty_metadata(make_start, service):
    client = FakeLambda()
    payment = service.create(make_start())

    LambdaPaymentProvider("careforall-sandbox", client=client).authorize(payment)

    assert client.invocations[0][1]["metadata"] == {}


def test_lambda_provider_request_never_sends_trace_header(make_start, service):
    client = FakeLambda()
    payment = service.create(make_start(correlation_id="checkout-42", trace_header=TRACE_HEADER))

    LambdaPaymentProvider("careforall-sandbox", client=client).authorize(payment)

    assert TRACE_HEADER not in json.dumps(client.invocations[0][1])


# ---------------------------------------------------------------------------------------- StepFunctionsStarter
class FakeStepFunctions:
    def __init__(self) -> None:
        self.started: list[dict] = []

    def start_execution(self, **kwargs) -> dict:
        self.started.append(kwargs)
        return {"executionArn": f"{MACHINE_ARN}:{kwargs['name']}", "startDate": "2025-04-09T12:00:00Z"}


def test_starter_with_trace_header_passes_it_as_trace_header():
    client = FakeStepFunctions()

    started = StepFunctionsStarter(MACHINE_ARN, client=client).start("pay-1", {"payment_id": "pay-1"}, TRACE_HEADER)

    assert started is True
    ((request,),) = [client.started]
    assert request == {"stateMachineArn": MACHINE_ARN, "name": "pay-1", "input": json.dumps({"payment_id": "pay-1"}),
                       "traceHeader": TRACE_HEADER}


@pytest.mark.parametrize("trace_header", [None, ""])
def test_starter_without_trace_header_passes_none(trace_header):
    client = FakeStepFunctions()

    StepFunctionsStarter(MACHINE_ARN, client=client).start("pay-1", {"payment_id": "pay-1"}, trace_header)

    assert "traceHeader" not in client.started[0]


def test_starter_trace_header_defaults_to_none():
    client = FakeStepFunctions()

    StepFunctionsStarter(MACHINE_ARN, client=client).start("pay-1", {"payment_id": "pay-1"})

    assert "traceHeader" not in client.started[0]
