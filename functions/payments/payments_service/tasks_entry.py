"""The template's Handler of PaymentTaskFunction.

Its import validates the settings; `payments_service.tasks` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from payments_service.settings import TaskSettings

lambda_handler, __getattr__ = entry_point("payments_service.tasks", TaskSettings)
