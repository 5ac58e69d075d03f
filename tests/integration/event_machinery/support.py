"""Helpers for the event machinery tests: polling with a deadline, the probe journal, the probe table
and queues of the test template (tests/fixtures/event_machinery), spoken to through the stack's AWS endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import boto3
import requests

from tests.integration.stack import REPO_ROOT, RunningStack, start_stack

TEMPLATE = REPO_ROOT / "tests" / "fixtures" / "event_machinery" / "template.yaml"
REGION = "us-east-1"
PREFIX = "careforall-"
T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 30, interval: float = 0.1, what: str = "") -> T:
    """Calls `probe` until it returns something truthy (which is returned) without an AssertionError;
    fails with the last assertion or value once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        error: AssertionError | None = None
        try:
            value = probe()
            if value:
                return value
        except AssertionError as failed:
            error, value = failed, None
        if time.monotonic() > deadline:
            detail = f"{error}" if error else f"last value {value!r}"
            raise AssertionError(f"not within {timeout} s: {what or probe}: {detail}") from error
        time.sleep(interval)


def unique(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


def start_machinery_stack(log_dir: Path, **extra_env: str) -> RunningStack:
    """The local stack built from the test template, with its own stream checkpoint directory."""
    return start_stack(log_dir, {"CAREFORALL_TEMPLATE": str(TEMPLATE),
                                 "CAREFORALL_STATE_DIR": str(log_dir / "state"), **extra_env})


class Emulator:
    """`python -m careforall_local.emulator` started on its own, as CAREFORALL_AWS_EXTERNAL=1 expects."""

    def __init__(self, log_dir: Path, port: int, internal_port: int) -> None:
        self.port, self.internal_port = port, internal_port
        self.endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CAREFORALL_"))}
        env["PYTHONPATH"] = str(REPO_ROOT / "infra" / "local")
        self.log_path = log_dir / f"emulator-{port}.log"
        with self.log_path.open("w") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "careforall_local.emulator", "--port", str(port),
                 "--invoke-url", f"http://127.0.0.1:{internal_port}"],
                cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            eventually(self._answers, timeout=60, what="the emulator answering")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        if self.process.poll() is not None:  # not an AssertionError: eventually() must not wait on
            raise RuntimeError(f"the emulator exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return requests.get(f"{self.endpoint}/_careforall/mail", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Probe:
    """The test template's resources in one stack: the probe table, the journal, the queues."""

    def __init__(self, endpoint: str) -> None:
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.stepfunctions = session.client("stepfunctions", endpoint_url=endpoint)
        self.lambda_ = session.client("lambda", endpoint_url=endpoint)
        self._queue_urls: dict[str, str] = {}

    # ------------------------------------------------------------------ journal
    def journal(self, kind: str, key: str) -> list[dict[str, Any]]:
        """What the probe functions recorded for one stream key / message id / connection, oldest first."""
        entries, kwargs = [], {}
        while True:
            page = self.dynamodb.query(
                TableName=PREFIX + "JournalTable", KeyConditionExpression="pk = :pk", ConsistentRead=True,
                ExpressionAttributeValues={":pk": {"S": f"{kind}#{key}"}}, **kwargs)
            entries += [{"key": key, "sk": item["sk"]["S"], **json.loads(item["detail"]["S"])}
                        for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return entries
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def journal_of(self, kind: str, keys: Iterable[str]) -> list[dict[str, Any]]:
        """All deliveries of these keys, in the order the probes recorded them."""
        return sorted((e for key in keys for e in self.journal(kind, key)), key=lambda e: e["sk"])

    def delivered(self, kind: str, key: str, times: int = 1) -> list[dict[str, Any]]:
        """Waits until `key` was journaled at least `times` times; returns its entries."""
        return eventually(lambda: (entries := self.journal(kind, key)) and len(entries) >= times and entries,
                          what=f"{kind} {key} delivered {times}x")

    # ------------------------------------------------------------------ DynamoDB stream source
    def write(self, *items: tuple[str, str]) -> None:
        """Puts (key, mode) items into the probe table in one BatchWriteItem, so in this order on the stream."""
        self.dynamodb.batch_write_item(RequestItems={PREFIX + "ProbeTable": [
            {"PutRequest": {"Item": {"pk": {"S": key}, "mode": {"S": mode}}}} for key, mode in items]})

    def write_while_shard_busy(self, *items: tuple[str, str]) -> None:
        """Writes `items` while the stream poller is busy retrying a poison blocker record, so that its
        next GetRecords finds all of them at once (up to BatchSize); returns once the first is delivered."""
        blocker = unique("blocker")
        self.write((blocker, "fail"))
        self.delivered("stream", blocker)
        self.write(*items)
        self.delivered("stream", items[0][0])

    def settle_stream(self) -> None:
        """Returns once every record written before the call has had all its deliveries and retries.
        A shard is processed in order, batch by batch: a first sentinel may still share a batch with
        earlier records, but a second one, written after the first was delivered, cannot, so its
        delivery means every earlier batch is finished."""
        for _ in range(2):
            sentinel = unique("sentinel")
            self.write((sentinel, "ok"))
            self.delivered("stream", sentinel)

    # ------------------------------------------------------------------ SQS
    def queue_url(self, name: str) -> str:
        if name not in self._queue_urls:
            self._queue_urls[name] = self.sqs.get_queue_url(QueueName=PREFIX + name)["QueueUrl"]
        return self._queue_urls[name]

    def send(self, queue: str, message_id: str, mode: str = "ok", **kwargs) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url(queue), MessageBody=json.dumps({"id": message_id, "mode": mode}),
                              **kwargs)

    def queue_counts(self, queue: str) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


class QueueDrain:
    """Receives and deletes everything arriving on a queue, keeping the bodies, so tests sharing the
    queue can each find their own message without hiding the others' behind a visibility timeout."""

    def __init__(self, probe: Probe, queue: str) -> None:
        self.probe, self.queue = probe, queue
        self.bodies: list[Any] = []

    def _receive(self) -> None:
        url = self.probe.queue_url(self.queue)
        messages = self.probe.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                  WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            self.bodies.append(json.loads(message["Body"]))
        if messages:
            self.probe.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def find(self, predicate: Callable[[Any], bool], timeout: float = 30) -> Any:
        def found():
            matches = [body for body in self.bodies if predicate(body)]
            if not matches:
                self._receive()
                matches = [body for body in self.bodies if predicate(body)]
            return matches[0] if matches else None

        return eventually(found, timeout=timeout, interval=0, what=f"a matching message on {self.queue}")
