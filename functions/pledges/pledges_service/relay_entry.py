"""The template's Handler of PledgeRelayFunction.

Its import validates the settings; `pledges_service.relay` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from pledges_service.settings import RelaySettings

lambda_handler, __getattr__ = entry_point("pledges_service.relay", RelaySettings)
