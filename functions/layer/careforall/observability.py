"""The one Logger, Tracer and Metrics of a function: import these, never construct new ones.

Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
(set in template.yaml), so every log line, trace and metric says which function produced it.
"""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# A request that records no business metric is normal (a GET, a rejected login); Powertools warns on
# every such flush, which would drown the logs.
warnings.filterwarnings("ignore", message="No application metrics to publish")
