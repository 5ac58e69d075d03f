"""The template's Handler of UsersFunction and SeedAdminFunction.

Its import validates the settings; `users_service.handler` is imported by the first invocation
(careforall.deferred says why).
"""

from careforall.deferred import entry_point

from users_service.settings import Settings

lambda_handler, seed_admin_handler, __getattr__ = entry_point("users_service.handler", Settings, "lambda_handler", "seed_admin_handler")
