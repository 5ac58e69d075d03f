"""Campaigns service: CRUD over the campaigns table; amounts raised come from the totals read model."""
