"""Worklists: each role's list of the stays it works on, most urgent first (the web start page)."""
