"""Subscriptions: a client is told of changes (FHIR R4 rest-hook) instead of polling."""
