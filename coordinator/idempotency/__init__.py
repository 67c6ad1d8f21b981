"""Idempotency-Key on POST: the stored answer to a request, so that a repeat gets it again."""
