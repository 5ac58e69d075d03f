"""Reading what Powertools writes to stdout: EMF metric documents and JSON log lines.

Metrics (`metrics.log_metrics`, `observability.count`) are printed, so capsys sees them. The logger's
stream is the sys.stdout of the moment the logger was built (before any test), so `observed` points
it at whatever sys.stdout is when a line is written (capsys swaps it between the test's phases), and
lowers the level to INFO (the tests run at WARNING).
Powertools keeps one metric set per process: `observed` clears it before and after the test.

Use: `from tests.unit.layer.observability_support import observed  # noqa: F401  (a fixture)`.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from careforall.observability import logger, metrics


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` that is a JSON object."""
    documents = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                documents.append(json.loads(line))
            except ValueError:
                continue
    return documents


@dataclass(frozen=True)
class Metric:
    name: str
    values: list[float]  # Powertools prints a list: one value per add_metric before the flush
    unit: str | None
    dimensions: dict[str, str]
    namespace: str


def emf_metrics(text: str) -> list[Metric]:
    """The metrics of every EMF document in `text`, each with the dimensions of its directive."""
    found = []
    for document in json_lines(text):
        aws = document.get("_aws")
        if not isinstance(aws, dict):
            continue
        for directive in aws["CloudWatchMetrics"]:
            dimensions = {name: document[name] for names in directive["Dimensions"] for name in names}
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                found.append(Metric(metric["Name"], value if isinstance(value, list) else [value], metric.get("Unit"),
                                    dimensions, directive["Namespace"]))
    return found


class _CurrentStdout:
    """A stream that writes to sys.stdout as it is at the time of writing."""

    @staticmethod
    def write(text: str) -> int:
        return sys.stdout.write(text)

    @staticmethod
    def flush() -> None:
        sys.stdout.flush()


class Observed:
    """What the code under test printed so far (read from capsys, kept across reads)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._text = ""

    @property
    def text(self) -> str:
        self._text += self._capsys.readouterr().out
        return self._text

    def documents(self) -> list[dict[str, Any]]:
        return json_lines(self.text)

    def metrics(self, name: str | None = None) -> list[Metric]:
        return [m for m in emf_metrics(self.text) if name is None or m.name == name]

    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics()]

    def logs(self, message: str | None = None) -> list[dict[str, Any]]:
        lines = [d for d in self.documents() if "_aws" not in d and "message" in d and "level" in d]
        return [line for line in lines if message is None or line["message"] == message]


@pytest.fixture
def observed(capsys, monkeypatch) -> Observed:
    handler = logger.registered_handler
    monkeypatch.setattr(handler, "stream", _CurrentStdout())
    previous_level = logging.getLevelName(logger.level)
    logger.setLevel("INFO")
    metrics.clear_metrics()
    try:
        yield Observed(capsys)
    finally:
        metrics.clear_metrics()
        logger.setLevel(previous_level)
