"""The template's Handler of AuthorizerFunction.

Its import validates the settings; `authorizer_service.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from authorizer_service.models import Settings

lambda_handler, __getattr__ = entry_point("authorizer_service.handler", Settings)
