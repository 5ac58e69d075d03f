"""The template's Handler of SocketsFunction.

Its import validates the settings; `totals_service.sockets` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from totals_service.settings import SocketsSettings

lambda_handler, __getattr__ = entry_point("totals_service.sockets", SocketsSettings)
