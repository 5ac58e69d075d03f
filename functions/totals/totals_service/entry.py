"""The template's Handler of TotalsFunction.

Its import validates the settings; `totals_service.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from totals_service.settings import ApiSettings

lambda_handler, __getattr__ = entry_point("totals_service.handler", ApiSettings)
