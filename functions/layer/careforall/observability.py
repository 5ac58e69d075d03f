"""The one Logger, Tracer and Metrics of a function: import these, never construct new ones.

Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
(set in template.yaml), so every log line, trace and metric says which function produced it.
"""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
tracer = Tracer()
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
