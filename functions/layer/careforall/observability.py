"""The one Logger, Tracer and Metrics of a function: import these, never construct new ones.

Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
(set in template.yaml), so every log line, trace and metric says which function produced it.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, Callable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# What the functions call out with: botocore (every AWS call a subsegment) and http.client (the sandbox's
# webhooks). Patching everything the X-Ray SDK knows (requests, sqlite3, pymongo, ...) imported libraries
# that no function uses.
TRACED_MODULES = ("botocore", "httplib")


class DeferredTracer:
    """The function's Powertools Tracer, built when the first invocation starts instead of at import.

    Building it loads the X-Ray SDK and patches botocore, about a fifth of boto3's own import time:
    a cold start's import stays within its budget, and the handler and every method it decorated
    are traced exactly as by a Tracer built at import (decorators wrap now, trace once it exists).
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._tracer: Tracer | None = None

    def get(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(**self._options)
        return self._tracer

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **options: Any) -> Callable:
        return self._deferred("capture_lambda_handler", lambda_handler, options)

    def capture_method(self, method: Callable | None = None, **options: Any) -> Callable:
        return self._deferred("capture_method", method, options)

    def _deferred(self, decorator: str, function: Callable | None, options: dict[str, Any]) -> Callable:
        if function is None:
            return functools.partial(self._deferred, decorator, options=options)

        traced: Callable | None = None

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = getattr(self.get(), decorator)(function, **options)
            return traced(*args, **kwargs)

        return wrapper

    def __getattr__(self, name: str) -> Any:  # put_annotation, disabled, provider, ...
        return getattr(self.get(), name)


logger = Logger()
tracer = DeferredTracer(patch_modules=TRACED_MODULES)
metrics = Metrics()

# A request that records no business metric is normal (a GET, a rejected login); Powertools warns on
# every such flush, which would drown the logs.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """One metric with its own dimensions (e.g. reason=stale), flushed at once.

    `metrics.add_metric` shares one dimension set per invocation; a metric broken down by a
    dimension that varies per record or per outcome needs its own EMF document.
    """
    with single_metric(name=name, unit=unit, value=value, default_dimensions=metrics.default_dimensions) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
