"""Developer and CI tools that run against the app."""
