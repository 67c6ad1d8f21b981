"""Fixed contact persons per sector."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import LINK_HEADER, keyset_page, operation
from coordinator.api.schemas.contacts import (
    ContactCreateSchema,
    ContactSchema,
    EndContactSchema,
    HandoverSchema,
    MissingSectorsSchema,
    PeopleQuerySchema,
    PersonSchema,
)
from coordinator.contacts import services
from coordinator.db import get_session
from coordinator.edge import clock, current_actor

blp = Blueprint(
    "contacts",
    __name__,
    url_prefix="",
    description="Fixed contact persons (faste kontaktpersoner).",
)
people_blp = Blueprint(
    "people",
    __name__,
    url_prefix="/people",
    description="The staff of your own organisation: whom to name as a fixed contact person.",
)


@blp.route("/patients/<id:patient_id>/contacts")
class PatientContacts(MethodView):
    @operation("CareTeam", "read")
    @blp.response(200, ContactSchema(many=True))
    def get(self, patient_id: int) -> list[Any]:
        """Every contact period of the patient, by sector and date."""
        return services.list_contacts(
            get_session(), current_actor(), clock(), patient_id=patient_id
        )

    @operation("CareTeam", "write")
    @blp.arguments(ContactCreateSchema)
    @blp.response(201, ContactSchema)
    def post(self, data: dict[str, Any], patient_id: int) -> Any:
        """Name the fixed contact person of your sector (periods of one sector never overlap)."""
        return services.assign_contact(
            get_session(), current_actor(), clock(), patient_id=patient_id, **data
        )


@blp.route("/patients/<id:patient_id>/contacts/missing")
class MissingContacts(MethodView):
    @operation("CareTeam", "read")
    @blp.response(200, MissingSectorsSchema)
    def get(self, patient_id: int) -> dict[str, Any]:
        """Sectors without a current fixed contact person today."""
        return {
            "sectors": services.sectors_lacking_contact(
                get_session(), current_actor(), clock(), patient_id=patient_id
            )
        }


@blp.route("/contacts/<id:assignment_id>/handover")
class Handover(MethodView):
    @operation("CareTeam", "write")
    @blp.arguments(HandoverSchema)
    @blp.response(201, ContactSchema)
    def post(self, data: dict[str, Any], assignment_id: int) -> Any:
        """Hand over to a successor from a day: the old period ends the day before."""
        return services.hand_over_contact(
            get_session(), current_actor(), clock(), assignment_id=assignment_id, **data
        )


@blp.route("/contacts/<id:assignment_id>/end")
class EndContact(MethodView):
    @operation("CareTeam", "write")
    @blp.arguments(EndContactSchema)
    @blp.response(200, ContactSchema)
    def post(self, data: dict[str, Any], assignment_id: int) -> Any:
        """End a contact period on its last day."""
        return services.end_contact(
            get_session(), current_actor(), clock(), assignment_id=assignment_id, **data
        )


@people_blp.route("")
class People(MethodView):
    @operation("Practitioner", "read")
    @people_blp.arguments(PeopleQuerySchema, location="query")
    @people_blp.response(200, PersonSchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> Any:
        """The active staff of your own organisation and its units, with role and how to reach them: to
        find a fixed contact person. Other organisations are refused (403)."""
        people = services.list_colleagues(get_session(), current_actor(), clock(), **query)
        return keyset_page(people, query["limit"])
