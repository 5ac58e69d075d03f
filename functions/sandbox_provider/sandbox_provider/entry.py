"""The template's Handler of SandboxProviderFunction and SandboxWebhookSenderFunction.

Its import validates the settings; `sandbox_provider.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from sandbox_provider.settings import Settings

provider_handler, sender_handler, __getattr__ = entry_point(
    "sandbox_provider.handler", Settings, "provider_handler", "sender_handler")
