"""The template's Handler of PaymentStarterFunction.

Its import validates the settings; `payments_service.starter` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from payments_service.settings import StarterSettings

lambda_handler, __getattr__ = entry_point("payments_service.starter", StarterSettings)
