"""A realistic, synthetic demo data set for Region Hovedstaden, loaded by ``flask --app coordinator demo load``
(idempotent: keyed by natural identifiers). ``synthetic`` holds the identities, which cannot belong to
anyone; ``loader`` builds the organisations, staff, patients and their stories through the use cases."""

from coordinator.demo.loader import DemoLogin, DemoResult, load_demo

__all__ = ["DemoLogin", "DemoResult", "load_demo"]
