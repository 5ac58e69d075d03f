"""Users service: registration, login, profile and roles (handlers -> logic -> dal)."""
