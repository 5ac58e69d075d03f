"""The template's Handler of CampaignsFunction.

Its import validates the settings; `campaigns_service.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from campaigns_service.settings import Settings

lambda_handler, __getattr__ = entry_point("campaigns_service.handler", Settings)
