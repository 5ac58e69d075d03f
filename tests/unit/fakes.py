"""In-memory fakes shared by several services' logic tests (injected through constructors)."""

from __future__ import annotations


class FakeWindowCounters:
    """Fixed-window counters (careforall.ratelimit); like DynamoDB it only answers for counters that exist."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, int], int] = {}
        self.expiries: dict[tuple[str, int], int] = {}

    def counts(self, keys: list[str], window: int) -> dict[str, int]:
        return {key: self.counters[(key, window)] for key in keys if (key, window) in self.counters}

    def increment(self, keys: list[str], window: int, expires_at: int) -> None:
        for key in keys:
            self.counters[(key, window)] = self.counters.get((key, window), 0) + 1
            self.expiries[(key, window)] = expires_at


class FakeClock:
    """A clock a test moves by hand: call it for the time, `advance` it instead of sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
