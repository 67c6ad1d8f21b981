"""The CarePlan version history: a copy of the FHIR resource at every version of a plan row.

``models`` holds the table, ``snapshots`` the commit hook that writes the copies (given the rendering
function by the app, so the feature imports no door), ``queries`` the reads ``vread`` and ``_history`` use.
"""
