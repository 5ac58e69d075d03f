"""Fixtures of the event machinery tests: one local stack built from the test template
(tests/fixtures/event_machinery/template.yaml) for the whole session, and the probe's view of it."""

from __future__ import annotations

import pytest

from tests.integration.event_machinery.support import Probe, QueueDrain, start_machinery_stack
from tests.integration.stack import RunningStack


@pytest.fixture(scope="session")
def machinery(tmp_path_factory) -> RunningStack:
    running = start_machinery_stack(tmp_path_factory.mktemp("machinery"))
    yield running
    code = running.stop()
    assert code == 0, f"the stack did not stop cleanly ({code}):\n{running.log()[-3000:]}"


@pytest.fixture(scope="session")
def probe(machinery) -> Probe:
    return Probe(machinery.aws_endpoint)


@pytest.fixture(scope="session")
def stream_failures(probe) -> QueueDrain:
    """The StreamConsumer mapping's OnFailure destination."""
    return QueueDrain(probe, "StreamFailureQueue")


@pytest.fixture(scope="session")
def dead_letters(probe) -> QueueDrain:
    """WorkQueue's dead-letter queue."""
    return QueueDrain(probe, "WorkDeadLetterQueue")
