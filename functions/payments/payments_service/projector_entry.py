"""The template's Handler of PaymentProjectorFunction.

Its import validates the settings; `payments_service.projector` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from payments_service.settings import ProjectorSettings

lambda_handler, __getattr__ = entry_point("payments_service.projector", ProjectorSettings)
