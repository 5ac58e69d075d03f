"""Realtime and email after a change: WebSocket pushes, receipts, the goal-reached note.

- The pledges table's stream: a pledge whose status or payment changed is pushed as
  `pledge.updated` to its donor's sockets and to the sockets following that pledge with its receipt
  token (guests); a pledge entering COMPLETED gets one receipt, marked on the pledge before sending
  (a conditional write), so redelivery never sends a second.
- The connections table's stream: a new connection that follows a pledge gets that pledge's current
  state as its first `pledge.updated` (a $connect handler cannot post to its own connection: it is
  not open until $connect returns). A 410 within OPENING_GRACE_SECONDS of the connect means "not
  open yet" and fails the record, so the stream retries it.
- The totals table's stream: each change is pushed as `totals.updated` to the campaign's
  subscribers; the first time a campaign reaches its goal, its owner gets a note (marked likewise).
- Connections live in the connections table (TTL); a push to a gone one (410) deletes it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from careforall import dynamo
from careforall.clock import now_iso
from careforall.config import load_settings
from careforall.mail import SesMailer
from careforall.money import format_amount, from_cents
from careforall.observability import count, logger, metrics, tracer
from careforall.tracing import correlation, joined_trace
from totals_service.settings import RealtimeSettings as Settings


SETTINGS = load_settings(Settings)
OPENING_GRACE_SECONDS = 10  # a 410 this soon after $connect: the handshake may not have completed yet
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def sockets():
    return boto3.client("apigatewaymanagementapi", endpoint_url=SETTINGS.websocket_endpoint)


@cache
def mailer() -> SesMailer:
    return SesMailer(SETTINGS.sender_email)


def connections(index: str, attribute: str, value: str) -> list[str]:
    ids, start = [], None
    while True:
        query = {"TableName": SETTINGS.connections_table_name, "IndexName": index,
                 "KeyConditionExpression": "#a = :v", "ExpressionAttributeNames": {"#a": attribute},
                 "ExpressionAttributeValues": dynamo.to_values({":v": value}), "ProjectionExpression": "connection_id"}
        if start:
            query["ExclusiveStartKey"] = start
        response = dynamo.client().query(**query)
        ids += [dynamo.from_item(i)["connection_id"] for i in response.get("Items", [])]
        start = response.get("LastEvaluatedKey")
        if not start:
            return ids


def push(connection_ids: list[str], message: dict, connected_at: float | None = None) -> int:
    """Post `message` to each connection; a gone one (410) is forgotten. With `connected_at` (one just opened),
    a 410 within OPENING_GRACE_SECONDS of it raises NotOpenYet instead: the handshake may not be complete."""
    data, sent = json.dumps(message).encode(), 0
    for connection_id in connection_ids:
        try:
            sockets().post_to_connection(ConnectionId=connection_id, Data=data)
            sent += 1
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("GoneException", "410"):
                count(name="NotificationFailures", channel="websocket")
                raise
            if connected_at is not None and time.time() - connected_at < OPENING_GRACE_SECONDS:
                raise NotOpenYet(connection_id) from error
            dynamo.client().delete_item(TableName=SETTINGS.connections_table_name,
                                        Key=dynamo.to_item({"connection_id": connection_id}))
    if sent:
        metrics.add_metric(name="PushesSent", unit="Count", value=sent)
    return sent


def mark_once(table: str, key: dict, attribute: str) -> bool:
    """Set `attribute` unless it is set: True for exactly one caller, however often a record comes."""
    try:
        dynamo.client().update_item(TableName=table, Key=dynamo.to_item(key),
                                    UpdateExpression="SET #a = :now", ConditionExpression="attribute_not_exists(#a)",
                                    ExpressionAttributeNames={"#a": attribute},
                                    ExpressionAttributeValues=dynamo.to_values({":now": now_iso()}))
        return True
    except ClientError as error:
        if dynamo.is_condition_failure(error):
            return False
        raise


def unmark(table: str, key: dict, attribute: str) -> None:
    dynamo.client().update_item(TableName=table, Key=dynamo.to_item(key), UpdateExpression="REMOVE #a",
                                ExpressionAttributeNames={"#a": attribute})


def send_once(table: str, key: dict, attribute: str, to: str, subject: str, text: str) -> bool:
    if not mark_once(table, key, attribute):
        return False
    try:
        mailer().send(to, subject, text)
    except Exception:
        count(name="NotificationFailures", channel="email")
        unmark(table, key, attribute)  # not sent: let the retry send it
        raise
    return True


# ---------------------------------------------------------------------------------------- pledges stream
def on_pledge(record: DynamoDBRecord) -> None:
    new = record.dynamodb.new_image if record.dynamodb else None
    old = (record.dynamodb.old_image if record.dynamodb else None) or {}
    if not new or new.get("entity") != "PLEDGE":
        return
    if new.get("status") == old.get("status") and new.get("payment") == old.get("payment"):
        return  # nothing the donor can see changed
    with correlation(new.get("correlation_id")), \
            joined_trace(new.get("trace_header"), pledge_id=new["id"], correlation_id=new.get("correlation_id")):
        notify_pledge(new, old)


def notify_pledge(new: dict, old: dict) -> None:
    seconds = _seconds_between(new.get("created_at"), new.get("updated_at"))
    if new.get("status") != old.get("status") and new.get("status") in ("COMPLETED", "FAILED"):
        logger.info("pledge finished", extra={"pledge_id": new["id"], "status": new["status"], "seconds": seconds})
    amount = format_amount(from_cents(int(new["amount_cents"])))
    followers = connections("by_user", "user_id", new["donor_id"]) if new.get("donor_id") else []
    followers += connections("by_pledge", "pledge_id", new["id"])
    push(list(dict.fromkeys(followers)), pledge_message(new))  # a socket both of the donor and the pledge: once
    if new.get("status") == "COMPLETED" and old.get("status") != "COMPLETED":
        if send_once(SETTINGS.pledges_table_name, {"pk": new["pk"]}, "receipt_sent_at", new["donor_email"],
                     "Your CareForAll donation receipt",
                     f"Thank you for your donation of {amount} {new.get('currency')}.\n\n"
                     f"Pledge: {new['id']}\nCampaign: {new['campaign_id']}\n"
                     f"Payment: {(new.get('payment') or {}).get('id')}\n"):
            metrics.add_metric(name="ReceiptsSent", unit="Count", value=1)
            logger.info("receipt sent", extra={"pledge_id": new["id"]})
            if seconds is not None:  # measured once per pledge, with its one receipt, however often records come
                metrics.add_metric(name="PledgeToCompletionSeconds", unit="Seconds", value=seconds)


def pledge_message(pledge: dict) -> dict:
    return {"type": "pledge.updated", "pledge_id": pledge["id"], "campaign_id": pledge["campaign_id"],
            "status": pledge.get("status"), "amount": format_amount(from_cents(int(pledge["amount_cents"]))),
            "currency": pledge.get("currency"), "payment": pledge.get("payment"), "updated_at": pledge.get("updated_at")}


def _seconds_between(start: str | None, end: str | None) -> float | None:
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------- connections stream
class NotOpenYet(Exception):
    """PostToConnection answered 410 moments after $connect: the handshake may not be complete; retry the record."""


def on_connection(record: DynamoDBRecord) -> None:
    """A new connection following a pledge: push it the pledge's current state, its first pledge.updated."""
    new = record.dynamodb.new_image if record.dynamodb else None
    if record.get("eventName") != "INSERT" or not new or not new.get("pledge_id"):
        return  # campaign and donor subscriptions, disconnects and expiries: nothing to send
    connection_id = new["connection_id"]
    if not _connection_exists(connection_id):
        return  # closed meanwhile ($disconnect deleted it)
    pledge = dynamo.from_item(dynamo.client().get_item(
        TableName=SETTINGS.pledges_table_name, Key=dynamo.to_item({"pk": f"PLEDGE#{new['pledge_id']}"}),
        ConsistentRead=True).get("Item"))
    if not pledge or pledge.get("entity") != "PLEDGE":
        return
    with correlation(pledge.get("correlation_id")):
        if push([connection_id], pledge_message(pledge), connected_at=int(new.get("connected_at") or 0)):
            logger.info("pledge state sent on connect",
                        extra={"pledge_id": pledge["id"], "status": pledge.get("status")})


def _connection_exists(connection_id: str) -> bool:
    return "Item" in dynamo.client().get_item(TableName=SETTINGS.connections_table_name,
                                              Key=dynamo.to_item({"connection_id": connection_id}),
                                              ProjectionExpression="connection_id", ConsistentRead=True)


# ---------------------------------------------------------------------------------------- totals stream
def on_totals(record: DynamoDBRecord) -> None:
    new = record.dynamodb.new_image if record.dynamodb else None
    old = (record.dynamodb.old_image if record.dynamodb else None) or {}
    if not new:
        return
    total, pledge_count = int(new.get("total_cents", 0)), int(new.get("pledge_count", 0))
    campaign_id, goal = new["campaign_id"], int(new.get("goal_cents", 0))
    if old and (total, pledge_count, goal) == (int(old.get("total_cents", 0)), int(old.get("pledge_count", 0)),
                                               int(old.get("goal_cents", 0))):
        return  # e.g. the goal note's own mark, or moto's no-op MODIFY
    # A new goal (PATCH /campaigns/{id}) changes the totals too: pushed, and a lowered goal may be reached now.
    logger.info("totals changed", extra={"campaign_id": campaign_id, "total_cents": total,
                                         "pledge_count": pledge_count,
                                         "correlation_ids": new.get("correlation_ids") or []})
    push(connections("by_campaign", "campaign_id", campaign_id), {
        "type": "totals.updated", "campaign_id": campaign_id, "total_amount": format_amount(from_cents(total)),
        "pledge_count": pledge_count, "goal_amount": format_amount(from_cents(goal)), "currency": new.get("currency"),
        "updated_at": new.get("updated_at")})
    if goal > 0 and total >= goal:
        owner_email = _owner_email(campaign_id)
        if owner_email and send_once(SETTINGS.totals_table_name, {"campaign_id": campaign_id}, "goal_notified_at",
                                     owner_email, "Your CareForAll campaign reached its goal",
                                     f"Campaign {campaign_id} has raised {format_amount(from_cents(total))} "
                                     f"{new.get('currency')} of its {format_amount(from_cents(goal))} goal."):
            metrics.add_metric(name="GoalNotesSent", unit="Count", value=1)


def _owner_email(campaign_id: str) -> str | None:
    campaign = dynamo.from_item(dynamo.client().get_item(
        TableName=SETTINGS.campaigns_table_name, Key=dynamo.to_item({"id": campaign_id}),
        ProjectionExpression="owner_id").get("Item"))
    if not campaign:
        return None
    owner = dynamo.from_item(dynamo.client().get_item(
        TableName=SETTINGS.users_table_name, Key=dynamo.to_item({"pk": f"USER#{campaign['owner_id']}"}),
        ProjectionExpression="email").get("Item"))
    return owner["email"] if owner else None


def on_record(record: DynamoDBRecord) -> None:
    """One function, three streams: the record's source says which table changed."""
    source = record.event_source_arn or ""
    if f":table/{SETTINGS.pledges_table_name}/" in source:
        on_pledge(record)
    elif f":table/{SETTINGS.totals_table_name}/" in source:
        on_totals(record)
    elif f":table/{SETTINGS.connections_table_name}/" in source:
        on_connection(record)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=on_record, processor=processor, context=context)
