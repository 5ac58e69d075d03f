"""The template's Handler of PledgesFunction.

Its import validates the settings; `pledges_service.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from pledges_service.settings import Settings

lambda_handler, __getattr__ = entry_point("pledges_service.handler", Settings)
