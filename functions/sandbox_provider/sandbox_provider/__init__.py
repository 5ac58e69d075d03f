"""A sandbox payment provider, for local use and tests: the API a real provider has (authorize,
capture, status), test card tokens, and webhooks sent by itself when on autopilot."""
