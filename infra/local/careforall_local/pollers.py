"""Event source mappings, polled the way Lambda's pollers do it (moto's own ESMs run synchronously
inside PutItem and wipe the stream's records, so they are never created).

DynamoDB streams (one shard in moto):
- read with GetShardIterator/GetRecords: TRIM_HORIZON (or LATEST) on first start, then
  AFTER_SEQUENCE_NUMBER from the checkpoint, which is kept on disk across restarts;
- batches of BatchSize, waiting up to MaximumBatchingWindowInSeconds to fill one, in order;
- a failed batch is retried; with ReportBatchItemFailures the retry starts at the lowest failed
  sequence number; with BisectBatchOnFunctionError an erroring batch is split in two;
- after MaximumRetryAttempts the batch's description goes to the OnFailure destination (an SQS
  queue) and the poller moves on; the shard is never blocked for longer.

SQS queues:
- long polling, BatchSize, batching window; successful messages are deleted, failed ones are left
  to reappear after the visibility timeout, so the queue's RedrivePolicy (implemented by moto)
  moves poison messages to the DLQ after maxReceiveCount; partial batch responses are honoured.
- every system attribute is asked for (AWSTraceHeader included) and handed to the function in the
  record's `attributes`; the invocation joins the trace of the first record's AWSTraceHeader.

Tracing: a stream record carries no trace header, so each stream invocation starts a new trace
(as on AWS); an SQS batch joins the first record's AWSTraceHeader trace (as Lambda does).
Per mapping the pollers count batches and records delivered and, for streams, keep the newest
ApproximateCreationDateTime delivered, for the ops page's lag.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from careforall_local.chaos import Chaos
from careforall_local.runtime import FunctionRuntime, InvocationResult
from careforall_local.stack import REGION, EventSourceMapping

log = logging.getLogger("careforall.pollers")
STREAM_POLL_INTERVAL = 0.25  # Lambda polls each shard about four times a second
SQS_WAIT_SECONDS = 2
MAX_BACKOFF_SECONDS = 2.0


class CheckpointStore:
    """Last processed sequence number per (mapping, stream), in a JSON file written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    @staticmethod
    def _key(mapping: str, stream_arn: str) -> str:
        return f"{mapping}|{stream_arn}"

    def get(self, mapping: str, stream_arn: str) -> str | None:
        return self._data.get(self._key(mapping, stream_arn))

    def put(self, mapping: str, stream_arn: str, sequence_number: str) -> None:
        self._data[self._key(mapping, stream_arn)] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        tmp.replace(self.path)


class _Poller:
    def __init__(self, mapping: EventSourceMapping, runtime: FunctionRuntime, session, endpoint: str,
                 executor: ThreadPoolExecutor, chaos: Chaos) -> None:
        self.mapping = mapping
        self.runtime = runtime
        self.executor = executor
        self.chaos = chaos
        self._clients = {name: session.client(name, region_name=REGION, endpoint_url=endpoint)
                         for name in ("dynamodbstreams", "sqs", "dynamodb")}
        self.ready = asyncio.Event()
        self.delivered_batches = 0
        self.delivered_records = 0

    async def call(self, service: str, operation: str, **kwargs) -> dict[str, Any]:
        client = self._clients[service]
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, lambda: getattr(client, operation)(**kwargs))

    async def invoke(self, event: dict[str, Any], source: str, trace_header: str | None = None) -> InvocationResult:
        if self.chaos.duplicate_batches and self.chaos.applies_to(source, self._logical_id()):
            await self.runtime.invoke(self.mapping.function_name, event, source=source, detail="(duplicate)",
                                      trace_header=trace_header)
        return await self.runtime.invoke(self.mapping.function_name, event, source=source,
                                         detail=f"{len(event['Records'])} records", trace_header=trace_header)

    def details(self, now: float | None = None) -> dict[str, Any]:
        """What the ops page shows of this mapping."""
        return {"mapping": self.mapping.logical_id, "kind": self.mapping.kind, "function": self._logical_id(),
                "source_arn": self.mapping.source_arn, "batches_delivered": self.delivered_batches,
                "records_delivered": self.delivered_records}

    def _logical_id(self) -> str:
        spec = self.runtime.specs.get(self.mapping.function_name)
        return spec.logical_id if spec else self.mapping.function_name

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self.poll_forever()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a poller must outlive a transient emulator error
                log.warning("%s: poller error, retrying: %s", self.mapping.logical_id, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def poll_forever(self) -> None:
        raise NotImplementedError


def _failed_ids(result: InvocationResult) -> set[str] | None:
    """Item identifiers of a partial batch response; None when the response is not a valid one."""
    payload = result.payload
    if payload is None or payload == {} or payload == "":
        return set()
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier:
            return None  # Lambda treats an empty or missing itemIdentifier as a failure of the whole batch
        ids.add(identifier)
    return ids


class StreamPoller(_Poller):
    LAG_ALARM_SECONDS = 30.0

    def __init__(self, *args, checkpoints: CheckpointStore, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoints = checkpoints
        self.newest_delivered: float | None = None  # ApproximateCreationDateTime of the newest record delivered
        self.caught_up = False  # the last GetRecords found nothing new and nothing waits to be delivered
        self.oldest_pending: float | None = None  # creation time of the oldest record read but not yet done

    def details(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        if self.caught_up:
            lag = 0.0
        elif self.oldest_pending is not None:  # how far behind the shard's head the poller is
            lag = max(0.0, now - self.oldest_pending)
        else:
            lag = None
        return {**super().details(now), "table": self.mapping.source_arn.split(":table/", 1)[-1].split("/", 1)[0],
                "newest_record_at": self.newest_delivered, "lag_seconds": None if lag is None else round(lag, 3),
                "caught_up": self.caught_up,
                "lagging": lag is not None and lag > self.LAG_ALARM_SECONDS}

    async def _iterator(self, stream_arn: str, shard_id: str) -> str:
        checkpoint = self.checkpoints.get(self.mapping.logical_id, stream_arn)
        kwargs = {"StreamArn": stream_arn, "ShardId": shard_id}
        if checkpoint:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=checkpoint)
        else:
            kwargs.update(ShardIteratorType=self.mapping.starting_position)
        return (await self.call("dynamodbstreams", "get_shard_iterator", **kwargs))["ShardIterator"]

    async def poll_forever(self) -> None:
        stream_arn = await self._current_stream_arn()
        description = (await self.call("dynamodbstreams", "describe_stream", StreamArn=stream_arn))["StreamDescription"]
        shard_id = description["Shards"][0]["ShardId"]
        iterator = await self._iterator(stream_arn, shard_id)
        self.ready.set()
        buffered: list[dict[str, Any]] = []
        window_started = None
        while True:
            response = await self.call("dynamodbstreams", "get_records", ShardIterator=iterator,
                                       Limit=max(1, self.mapping.batch_size - len(buffered)))
            iterator = response.get("NextShardIterator") or iterator
            buffered.extend(response.get("Records", []))
            self.caught_up = not buffered
            self.oldest_pending = (_epoch(buffered[0]["dynamodb"].get("ApproximateCreationDateTime"))
                                   if buffered else None)
            if not buffered:
                await asyncio.sleep(STREAM_POLL_INTERVAL)
                continue
            window_started = window_started or time.monotonic()
            window_open = time.monotonic() - window_started < self.mapping.batching_window_seconds
            if len(buffered) < self.mapping.batch_size and window_open:
                await asyncio.sleep(min(STREAM_POLL_INTERVAL, self.mapping.batching_window_seconds))
                continue
            batch, buffered, window_started = buffered[: self.mapping.batch_size], buffered[self.mapping.batch_size:], None
            await self._deliver(batch, stream_arn, shard_id, retries=0)
            self.checkpoints.put(self.mapping.logical_id, stream_arn, batch[-1]["dynamodb"]["SequenceNumber"])
            self.delivered_batches += 1
            self.delivered_records += len(batch)
            created = _epoch(batch[-1]["dynamodb"].get("ApproximateCreationDateTime"))
            if created is not None:
                self.newest_delivered = max(created, self.newest_delivered or created)

    async def _current_stream_arn(self) -> str:
        """The mapping names the table's stream; the emulator's stream ARN carries its own label."""
        table = self.mapping.source_arn.split(":table/", 1)[1].split("/", 1)[0]
        described = await self.call("dynamodb", "describe_table", TableName=table)
        return described["Table"]["LatestStreamArn"]

    async def _deliver(self, batch: list[dict[str, Any]], stream_arn: str, shard_id: str, retries: int) -> None:
        while batch:
            event = {"Records": [_lambda_stream_record(r, stream_arn) for r in batch]}
            result = await self.invoke(event, source="stream")
            if result.ok and not self.mapping.report_batch_item_failures:
                return
            failed_at, errored = 0, not result.ok
            if result.ok:
                failed = _failed_ids(result)
                sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
                if failed is None or not failed.issubset(set(sequence)):
                    errored = True  # an invalid partial response fails the whole batch
                elif not failed:
                    return
                else:
                    failed_at = min(sequence.index(f) for f in failed)
            batch = batch[failed_at:]
            if errored and self.mapping.bisect_on_error and len(batch) > 1:
                middle = len(batch) // 2
                await self._deliver(batch[:middle], stream_arn, shard_id, retries)
                await self._deliver(batch[middle:], stream_arn, shard_id, retries)
                return
            retries += 1
            if 0 <= self.mapping.maximum_retry_attempts < retries:
                await self._send_on_failure(batch, stream_arn, shard_id, retries, result)
                return
            await asyncio.sleep(min(0.1 * 2 ** retries, MAX_BACKOFF_SECONDS))

    async def _send_on_failure(self, batch: list[dict[str, Any]], stream_arn: str, shard_id: str, attempts: int,
                               result: InvocationResult) -> None:
        log.warning("%s: %d records failed %d times; %s", self.mapping.logical_id, len(batch), attempts,
                    "sent to the on-failure destination" if self.mapping.on_failure_arn else "discarded")
        if not self.mapping.on_failure_arn:
            return
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        record = {
            "requestContext": {"requestId": result.request_id,
                               "functionArn": self.runtime.specs[self.mapping.function_name].arn,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id, "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(batch), "streamArn": stream_arn},
        }
        queue_url = await _queue_url(self, self.mapping.on_failure_arn)
        await self.call("sqs", "send_message", QueueUrl=queue_url, MessageBody=json.dumps(record))


class SqsPoller(_Poller):
    async def poll_forever(self) -> None:
        queue_url = await _queue_url(self, self.mapping.source_arn)
        self.ready.set()
        while True:
            messages: list[dict[str, Any]] = []
            deadline = None
            while len(messages) < self.mapping.batch_size:
                response = await self.call(
                    "sqs", "receive_message", QueueUrl=queue_url,
                    MaxNumberOfMessages=min(10, self.mapping.batch_size - len(messages)),
                    WaitTimeSeconds=SQS_WAIT_SECONDS if not messages else 0,
                    AttributeNames=["All"], MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
                received = response.get("Messages", [])
                messages.extend(received)
                if not messages:
                    break
                deadline = deadline or time.monotonic() + self.mapping.batching_window_seconds
                if not received and time.monotonic() >= deadline:
                    break
                if not received:
                    await asyncio.sleep(0.05)
            if not messages:
                continue
            event = {"Records": [_lambda_sqs_record(m, self.mapping.source_arn) for m in messages]}
            # Lambda joins the trace of the batch's first message (its AWSTraceHeader system attribute).
            result = await self.invoke(event, source="sqs",
                                       trace_header=event["Records"][0]["attributes"].get("AWSTraceHeader"))
            done = self._succeeded(messages, result)
            for start in range(0, len(done), 10):
                await self.call("sqs", "delete_message_batch", QueueUrl=queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
            self.delivered_batches += 1
            self.delivered_records += len(messages)

    def _succeeded(self, messages: list[dict[str, Any]], result: InvocationResult) -> list[dict[str, Any]]:
        if not result.ok:
            return []  # everything reappears after the visibility timeout
        if not self.mapping.report_batch_item_failures:
            return messages
        failed = _failed_ids(result)
        if failed is None or not failed.issubset({m["MessageId"] for m in messages}):
            return []  # an invalid partial response fails the whole batch, as Lambda does
        return [m for m in messages if m["MessageId"] not in failed]


async def _queue_url(poller: _Poller, arn: str) -> str:
    name = arn.rsplit(":", 1)[1]
    return (await poller.call("sqs", "get_queue_url", QueueName=name))["QueueUrl"]


def _epoch(moment: Any) -> float | None:
    if isinstance(moment, datetime):
        return moment.timestamp()
    if isinstance(moment, (int, float)):
        return float(moment)
    return None


def _iso(moment: Any) -> str | None:
    if isinstance(moment, datetime):
        return moment.astimezone(timezone.utc).isoformat()
    return None


def _lambda_stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record, as Lambda hands it to a function (epoch seconds, the stream's ARN)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def _lambda_sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = {k: v for k, v in (message.get("Attributes") or {}).items()}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                                  "stringListValues": [], "binaryListValues": [], "dataType": v["DataType"]}
                              for k, v in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class EventSourcePollers:
    """Starts one poller per enabled mapping of the template."""

    def __init__(self, mappings: list[EventSourceMapping], runtime: FunctionRuntime, endpoint: str,
                 state_dir: Path, chaos: Chaos) -> None:
        import boto3

        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
        # Long polls hold a thread each; the rest are short calls.
        self.executor = ThreadPoolExecutor(max_workers=max(4, 2 * len(mappings)), thread_name_prefix="poller")
        checkpoints = CheckpointStore(state_dir / "stream-checkpoints.json")
        self.pollers: list[_Poller] = []
        for mapping in mappings:
            if not mapping.enabled:
                continue
            if mapping.kind == "dynamodb":
                self.pollers.append(StreamPoller(mapping, runtime, session, endpoint, self.executor, chaos,
                                                 checkpoints=checkpoints))
            else:
                self.pollers.append(SqsPoller(mapping, runtime, session, endpoint, self.executor, chaos))
        self._tasks: list[asyncio.Task] = []

    async def start(self, timeout: float = 30) -> None:
        self._tasks = [asyncio.create_task(p.run(), name=p.mapping.logical_id) for p in self.pollers]
        await asyncio.wait_for(asyncio.gather(*(p.ready.wait() for p in self.pollers)), timeout)
        for poller in self.pollers:
            log.info("polling %s -> %s", poller.mapping.source_arn, poller.mapping.function_name)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, int]:
        """Batches delivered per mapping (stream batches count once checkpointed)."""
        return {p.mapping.logical_id: p.delivered_batches for p in self.pollers}

    def details(self) -> list[dict[str, Any]]:
        now = time.time()
        return [p.details(now) for p in self.pollers]
