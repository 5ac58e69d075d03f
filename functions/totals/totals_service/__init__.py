"""Totals: the CQRS read model of what each campaign raised, exact under redelivery; and the
notifications that follow a change (WebSocket pushes, receipts, the goal-reached note)."""
