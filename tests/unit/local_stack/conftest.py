"""The local stack's runtime and gateway, driven with the probe functions of tests/fixtures/local_stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from careforall_local.stack import LocalStackModel

FIXTURE_TEMPLATE = Path(__file__).resolve().parents[2] / "fixtures" / "local_stack" / "template.yaml"


@pytest.fixture(scope="session")
def probe_model() -> LocalStackModel:
    # No emulator session: resources get their local physical ids without being created.
    return LocalStackModel(FIXTURE_TEMPLATE)


@pytest.fixture(scope="session")
def probe_specs(probe_model):
    return probe_model.functions()
