"""The template's Handler of TotalsAggregatorFunction.

Its import validates the settings; `totals_service.aggregator` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from totals_service.settings import AggregatorSettings

lambda_handler, __getattr__ = entry_point("totals_service.aggregator", AggregatorSettings)
