"""Chaos switches for tests and demos: AWS's ways of failing, on demand. All off by default.

| variable | effect |
|---|---|
| CAREFORALL_CHAOS_DUPLICATE=1 | every stream/SQS batch is delivered twice (at-least-once, made visible) |
| CAREFORALL_CHAOS_FAIL_BEFORE=0.2 | that fraction of invocations fails before the handler runs |
| CAREFORALL_CHAOS_FAIL_AFTER=0.2 | that fraction fails after the handler ran: its writes stay, the source retries |
| CAREFORALL_CHAOS_LATENCY_MS=100 | added to every affected invocation |
| CAREFORALL_CHAOS_SOURCES=stream,sqs | which invocation sources are affected (also: api, sdk, async, authorizer, websocket) |
| CAREFORALL_CHAOS_FUNCTIONS=A,B | only these functions (logical ids); empty: all |
| CAREFORALL_CHAOS_SEED=7 | a fixed random seed, for repeatable runs |
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field


@dataclass
class Chaos:
    duplicate_batches: bool = False
    fail_before: float = 0.0
    fail_after: float = 0.0
    latency_ms: int = 0
    sources: frozenset[str] = frozenset({"stream", "sqs"})
    functions: frozenset[str] = frozenset()
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random.seed(self.seed)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Chaos":
        env = dict(os.environ if env is None else env)

        def names(key: str, default: str) -> frozenset[str]:
            return frozenset(n.strip() for n in env.get(key, default).split(",") if n.strip())

        return cls(
            duplicate_batches=env.get("CAREFORALL_CHAOS_DUPLICATE", "0") == "1",
            fail_before=float(env.get("CAREFORALL_CHAOS_FAIL_BEFORE", "0")),
            fail_after=float(env.get("CAREFORALL_CHAOS_FAIL_AFTER", "0")),
            latency_ms=int(env.get("CAREFORALL_CHAOS_LATENCY_MS", "0")),
            sources=names("CAREFORALL_CHAOS_SOURCES", "stream,sqs"),
            functions=names("CAREFORALL_CHAOS_FUNCTIONS", ""),
            seed=int(env["CAREFORALL_CHAOS_SEED"]) if env.get("CAREFORALL_CHAOS_SEED") else None,
        )

    @property
    def active(self) -> bool:
        return bool(self.duplicate_batches or self.fail_before or self.fail_after or self.latency_ms)

    def applies_to(self, source: str, logical_id: str) -> bool:
        return source in self.sources and (not self.functions or logical_id in self.functions)

    def roll(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability
