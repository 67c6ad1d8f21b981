"""The FHIR JSON a subscription notification carries (payload application/fhir+json): the changed
CarePlan, Task or Communication as the facade serves it. Matching and queueing live in the feature
(coordinator.subscriptions.matching, given ``render`` by create_app); the door only renders, so the
feature imports no door."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from coordinator.fhir.core import JSON
from coordinator.fhir.render import plan_json
from coordinator.fhir.resources.communication import communication_json
from coordinator.fhir.resources.task import task_json


def render(session: Session, resource_type: str, row: Any) -> JSON:
    if resource_type == "CarePlan":
        return plan_json(row)
    if resource_type == "Task":
        return task_json(row)
    return communication_json(session, row)
