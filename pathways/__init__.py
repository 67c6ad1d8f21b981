"""The carepath domain: rules, states and deadlines of Danish cross-sector psychiatric care pathways.

This package is the innermost layer. It imports nothing of ours and no framework (Flask, SQLAlchemy,
fhir.resources): everything here is plain Python that takes data and a point in time and returns data.
"""
