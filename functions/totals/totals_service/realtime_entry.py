"""The template's Handler of RealtimeFunction.

Its import validates the settings; `totals_service.realtime` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from totals_service.settings import RealtimeSettings

lambda_handler, __getattr__ = entry_point("totals_service.realtime", RealtimeSettings)
