"""The payment projector over moto: payments-table stream records in, the pledge's status and `payment` view out."""

from __future__ import annotations

import copy
import itertools
import uuid

import pytest

KEY = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
_sequence = itertools.count(111200000000012345678901)


@pytest.fixture
def ps(payments_stack):
    return payments_stack


@pytest.fixture
def created_pledge(ps, pledges_stack) -> dict:
    """A PENDING pledge created through the pledges API (its 201 body, receipt_token included)."""
    campaign = pledges_stack.put_campaign()
    result = pledges_stack.api(ps.stack.event(
        "pledges_create", path=f"/campaigns/{campaign}/pledges", path_params={"id": campaign},
        headers={"Idempotency-Key": KEY},
        body={"amount": "25.00", "donor_email": "guest.donor@example.com"}))
    assert result.status == 201, result.raw_body
    return result.json


@pytest.fixture
def pledge_id(created_pledge) -> str:
    return created_pledge["id"]


@pytest.fixture
def payment(ps, created_pledge):
    """The pledge's payment, as the workflow creates it from pledge.created (the pledge's campaign too)."""
    return ps.create_payment(created_pledge["id"], campaign_id=created_pledge["campaign_id"])


def _raw_item(ps, pk: str) -> dict:
    return ps.stack.dynamodb.get_item(TableName=ps.table, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"]


def _record(ps, new_image: dict, event_name: str = "MODIFY") -> dict:
    """One stream record as Lambda's DynamoDB event source delivers it (built from the sample event)."""
    record = copy.deepcopy(ps.stack.event("payment_projector_stream")["Records"][0])
    record["eventID"] = uuid.uuid4().hex
    record["eventName"] = event_name
    record["dynamodb"].update({"Keys": {"pk": new_image["pk"]}, "NewImage": new_image,
                               "SequenceNumber": str(next(_sequence))})
    record["dynamodb"].pop("OldImage", None)
    return record


def _snapshot(ps, payment_id: str) -> dict:
    """The payment item as stored now, in DynamoDB JSON (what the stream's NewImage carries)."""
    return _raw_item(ps, f"PAYMENT#{payment_id}")


def _project(ps, *images: dict) -> dict:
    return ps.projector.lambda_handler({"Records": [_record(ps, image) for image in images]}, ps.stack.context)


def _pledge(ps, pledge_id: str) -> dict:
    return ps.stack.get_item("PledgesTable", {"pk": f"PLEDGE#{pledge_id}"})


def _move(ps, payment_id: str, event_type: str, **data) -> dict:
    result = ps.webhook(ps.webhook_body(payment_id, event_type, **data))
    assert result.status == 200, result.raw_body
    return _snapshot(ps, payment_id)


# ------------------------------------------------------------------------------------------ projection
def test_project_completed_payment_sets_pledge_completed_with_payment_view(ps, payment, pledge_id):
    image = _move(ps, payment.id, "payment.completed")

    assert _project(ps, image) == {"batchItemFailures": []}

    pledge = _pledge(ps, pledge_id)
    stored = ps.repository().get(payment.id)
    assert pledge["status"] == "COMPLETED"
    assert pledge["payment"] == {"id": payment.id, "state": "COMPLETED", "provider_ref": stored.provider_ref,
                                 "updated_at": stored.updated_at}
    assert pledge["payment_version"] == stored.version


@pytest.mark.parametrize(("event_type", "pledge_status"), [
    ("payment.authorized", "PENDING"),
    ("payment.captured", "PENDING"),
    ("payment.completed", "COMPLETED"),
    ("payment.failed", "FAILED"),
])
def test_project_payment_state_maps_to_pledge_status(ps, payment, pledge_id, event_type, pledge_status):
    image = _move(ps, payment.id, event_type)

    _project(ps, image)

    assert _pledge(ps, pledge_id)["status"] == pledge_status


@pytest.mark.parametrize(("event_type", "pledge_status"), [
    ("payment.captured", "PENDING"),
    ("payment.completed", "COMPLETED"),
    ("payment.failed", "FAILED"),
])
def test_project_payment_state_moves_campaign_status_key_with_status(ps, payment, created_pledge, event_type,
                                                                     pledge_status):
    # campaign_status keys the pledges table's by_campaign_status index (GET /campaigns/{id}/pledges?status=)
    _project(ps, _move(ps, payment.id, event_type))

    pledge = _pledge(ps, created_pledge["id"])
    assert pledge["campaign_status"] == f"{created_pledge['campaign_id']}#{pledge_status}"


def test_project_older_version_after_newer_keeps_campaign_status_of_newer(ps, payment, created_pledge):
    authorized = _move(ps, payment.id, "payment.authorized")
    failed = _move(ps, payment.id, "payment.failed", reason="card_declined")
    _project(ps, failed)

    _project(ps, authorized)

    assert _pledge(ps, created_pledge["id"])["campaign_status"] == f"{created_pledge['campaign_id']}#FAILED"


def test_project_new_pending_payment_keeps_pledge_pending_with_payment_view(ps, payment, pledge_id):
    _project(ps, _snapshot(ps, payment.id))

    pledge = _pledge(ps, pledge_id)
    assert (pledge["status"], pledge["payment"]["state"], pledge["payment_version"]) == ("PENDING", "PENDING", 0)
    assert "provider_ref" not in pledge["payment"] or pledge["payment"]["provider_ref"] is None


def test_project_older_version_after_newer_is_ignored(ps, payment, pledge_id):
    authorized = _move(ps, payment.id, "payment.authorized")
    completed = _move(ps, payment.id, "payment.completed")
    _project(ps, completed)

    response = _project(ps, authorized)

    assert response == {"batchItemFailures": []}
    pledge = _pledge(ps, pledge_id)
    assert (pledge["status"], pledge["payment"]["state"]) == ("COMPLETED", "COMPLETED")


def test_project_same_record_twice_changes_nothing_the_second_time(ps, payment, pledge_id):
    image = _move(ps, payment.id, "payment.failed", reason="card_declined")
    _project(ps, image)
    first = _pledge(ps, pledge_id)

    _project(ps, image)

    assert _pledge(ps, pledge_id) == first


def test_project_records_out_of_order_in_one_batch_end_at_newest(ps, payment, pledge_id):
    captured = _move(ps, payment.id, "payment.captured")
    completed = _move(ps, payment.id, "payment.completed")

    _project(ps, completed, captured)

    assert _pledge(ps, pledge_id)["payment"]["state"] == "COMPLETED"


def test_project_event_item_is_ignored(ps, payment, pledge_id):
    body = ps.webhook_body(payment.id, "payment.completed", event_id="evt_projector_1")
    ps.webhook(body)
    before = _pledge(ps, pledge_id)

    response = _project(ps, _raw_item(ps, "EVENT#evt_projector_1"))

    assert response == {"batchItemFailures": []}
    assert _pledge(ps, pledge_id) == before


def test_project_remove_record_without_new_image_is_ignored(ps, payment, pledge_id):
    record = _record(ps, _snapshot(ps, payment.id), event_name="REMOVE")
    record["dynamodb"]["OldImage"] = record["dynamodb"].pop("NewImage")
    before = _pledge(ps, pledge_id)

    response = ps.projector.lambda_handler({"Records": [record]}, ps.stack.context)

    assert response == {"batchItemFailures": []}
    assert _pledge(ps, pledge_id) == before


def test_project_payment_of_unknown_pledge_creates_no_pledge(ps):
    orphan = ps.create_payment("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")

    response = _project(ps, _snapshot(ps, orphan.id))

    assert response == {"batchItemFailures": []}
    assert _pledge(ps, orphan.pledge_id) is None


def test_project_completed_pledge_reads_completed_through_pledges_api(ps, pledges_stack, payment, created_pledge):
    pledge_id = created_pledge["id"]
    _project(ps, _move(ps, payment.id, "payment.completed"))

    result = pledges_stack.api(ps.stack.event("pledges_get", path=f"/pledges/{pledge_id}",
                                              path_params={"id": pledge_id},
                                              query={"receipt_token": created_pledge["receipt_token"]}))

    assert result.status == 200, result.raw_body
    assert (result.json["status"], result.json["payment"]["id"], result.json["payment"]["state"]) == (
        "COMPLETED", payment.id, "COMPLETED")


def test_project_completed_pledge_is_listed_under_completed_for_its_campaign(ps, pledges_stack, payment,
                                                                             created_pledge):
    campaign_id = created_pledge["campaign_id"]
    _project(ps, _move(ps, payment.id, "payment.completed"))
    admin = {"user_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "email": "admin@careforall.local", "role": "ADMIN"}

    listed = {status: pledges_stack.api(ps.stack.event(
        "pledges_campaign_list", path=f"/campaigns/{campaign_id}/pledges", path_params={"id": campaign_id},
        caller=admin, query={"status": status})).json["items"] for status in ("COMPLETED", "PENDING")}

    assert [p["id"] for p in listed["COMPLETED"]] == [created_pledge["id"]]
    assert listed["PENDING"] == []


def test_project_sample_event_completes_its_pledge(ps):
    event = ps.stack.event("payment_projector_stream")
    image = event["Records"][0]["dynamodb"]["NewImage"]
    pledge_id = image["pledge_id"]["S"]
    ps.stack.dynamodb.put_item(TableName=ps.stack.tables["PledgesTable"], Item={
        "pk": {"S": f"PLEDGE#{pledge_id}"}, "entity": {"S": "PLEDGE"}, "id": {"S": pledge_id},
        "status": {"S": "PENDING"}})

    assert ps.projector.lambda_handler(event, ps.stack.context) == {"batchItemFailures": []}

    pledge = _pledge(ps, pledge_id)
    assert (pledge["status"], pledge["payment"]["id"], pledge["payment_version"]) == (
        "COMPLETED", image["id"]["S"], int(image["version"]["N"]))
