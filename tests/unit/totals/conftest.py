"""Fixtures of the totals tests: the in-memory store, and the totals functions wired to moto."""

from __future__ import annotations

from types import ModuleType

import pytest

from totals_support import FakeTotalsStore, TotalsStack


@pytest.fixture
def store() -> FakeTotalsStore:
    return FakeTotalsStore()


_CACHED = ("aggregator", "totals_reader", "authenticator", "sockets", "mail", "mailer")


def _clear(*modules: ModuleType) -> None:
    for module in modules:
        for name in _CACHED:
            cached = getattr(module, name, None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()


@pytest.fixture
def totals_stack(stack, function_modules):
    modules = [function_modules(f"totals_service.{name}") for name in ("aggregator", "handler", "realtime", "sockets")]
    _clear(*modules)
    try:
        yield TotalsStack(stack, *modules)
    finally:
        _clear(*modules)
