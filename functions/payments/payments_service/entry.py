"""The template's Handler of PaymentsFunction.

Its import validates the settings; `payments_service.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from payments_service.settings import ApiSettings

lambda_handler, __getattr__ = entry_point("payments_service.handler", ApiSettings)
