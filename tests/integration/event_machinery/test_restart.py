"""Stream checkpoints survive a restart of the stack: with the AWS emulator kept running
(CAREFORALL_AWS_EXTERNAL=1) and the same CAREFORALL_STATE_DIR, a restarted stack resumes after the last
processed record: what was written while it was down is delivered once, nothing is read twice."""

from __future__ import annotations

import requests

from tests.integration.event_machinery.support import Emulator, Probe, eventually, start_machinery_stack, unique
from tests.integration.stack import free_port


def stream_batches_checkpointed(base_url: str) -> int:
    """Batches the stream mapping finished (it checkpoints each before counting it), per /_local/ops/data."""
    sources = requests.get(f"{base_url}/_local/ops/data", timeout=5).json()["event_sources"]
    return sum(count for mapping, count in sources.items() if mapping.startswith("StreamConsumer"))


def test_restart_with_kept_checkpoint_delivers_records_written_while_down_once_and_nothing_again(tmp_path):
    emulator = Emulator(tmp_path, port=free_port(), internal_port=free_port())
    settings = {"CAREFORALL_AWS_EXTERNAL": "1", "CAREFORALL_AWS_PORT": str(emulator.port),
                "CAREFORALL_INTERNAL_PORT": str(emulator.internal_port),
                "CAREFORALL_STATE_DIR": str(tmp_path / "state")}
    probe = Probe(emulator.endpoint)
    first = second = None
    try:
        first = start_machinery_stack(tmp_path, **settings)
        k1 = unique("before-restart")
        probe.write((k1, "ok"))
        probe.delivered("stream", k1)
        eventually(lambda: stream_batches_checkpointed(first.base_url) >= 1, what="k1's batch checkpointed")
        assert first.stop() == 0, first.log()[-3000:]

        k2 = unique("while-down")
        probe.write((k2, "ok"))
        second = start_machinery_stack(tmp_path, **settings)
        probe.delivered("stream", k2)
        probe.settle_stream()

        assert len(probe.journal("stream", k2)) == 1
        assert len(probe.journal("stream", k1)) == 1
    finally:
        for stack in (second, first):
            if stack is not None:
                stack.stop()
        emulator.stop()
