"""Function entry points: the settings at cold start, the function's module with its first invocation.

Every function's template `Handler` is a small `*entry` module built with `entry_point`. Its import
(Lambda's INIT) validates the function's settings, so a missing one still fails the cold start
loudly, and loads nothing else: the module that does the work (Powertools' resolver and request
validation, batch processing, the data layer and boto3, the routes' models) is imported by the
first invocation. Under provisioned concurrency or SnapStart nobody waits for INIT, so there
everything is loaded at once (`AWS_LAMBDA_INITIALIZATION_TYPE`).

Attributes that are not handlers (e.g. `app`, read for the OpenAPI document) are looked up on the
deferred module through the entry module's `__getattr__`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any, Callable

from careforall.config import BaseSettings, load_settings

_LOADED_AT_INIT = ("provisioned-concurrency", "snap-start")
_registered: list["DeferredModule"] = []


class DeferredModule:
    """A module imported the first time one of its handlers (or attributes) is needed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._module: ModuleType | None = None
        _registered.append(self)

    def load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self.name)
        return self._module

    def handler(self, attribute: str) -> Callable[[Any, Any], Any]:
        def invoke(event: Any, context: Any) -> Any:
            return getattr(self.load(), attribute)(event, context)

        invoke.__name__ = invoke.__qualname__ = attribute
        invoke.__doc__ = f"{self.name}.{attribute}, imported with the first invocation."
        return invoke

    def attribute(self, name: str) -> Any:
        if name.startswith("__"):  # import machinery probing the entry module, never the deferred one
            raise AttributeError(name)
        return getattr(self.load(), name)


def entry_point(module: str, settings: type[BaseSettings], *handlers: str) -> tuple[Any, ...]:
    """Validate `settings` now; return each of `handlers` of `module` (deferred) and a module `__getattr__`."""
    load_settings(settings)
    deferred = DeferredModule(module)
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") in _LOADED_AT_INIT:
        load_all()
    return (*(deferred.handler(name) for name in handlers or ("lambda_handler",)), deferred.attribute)


def load_all() -> None:
    """Everything a first invocation would load: each deferred module, then the X-Ray tracer."""
    for deferred in _registered:
        deferred.load()
    from careforall.observability import tracer

    tracer.get()
