"""Plans: discharge agreements (§13a) and coordination plans (§13b). Writes need If-Match (the ETag)."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from coordinator.api.core import (
    ETAG_HEADER,
    LINK_HEADER,
    if_match_doc,
    keyset_page,
    operation,
    optional_version,
    with_etag,
)
from coordinator.api.schemas.plans import (
    DiffQuerySchema,
    DiffSchema,
    EndPlanSchema,
    MissingPartySchema,
    ParticipationSchema,
    PlanCreateSchema,
    PlanEditSchema,
    PlanListQuerySchema,
    PlanSchema,
    ReasonSchema,
    RespondSchema,
    VersionSchema,
)
from coordinator.api.schemas.reminders import SharedSchema, ShareSchema
from coordinator.db import get_session
from coordinator.edge import clock, current_actor
from coordinator.messaging.outbound import share_plan
from coordinator.plans import answers, parties, queries, reads, services
from coordinator.plans.models import Plan
from coordinator.plans.reads import PlanRow

blp = Blueprint(
    "plans",
    __name__,
    url_prefix="/plans",
    description="Discharge agreements (§13a) and coordination plans (§13b).",
)

Reply = tuple[Any, int, dict[str, str]]
CHANGE_DOC = if_match_doc("plan", {"409": "illegal transition or conflict"})


def _reply(plan: Plan | PlanRow, status: int = 200) -> Reply:
    headers = {"Location": url_for("plans.PlanById", plan_id=plan.id)} if status == 201 else None
    return with_etag(plan, plan.version, status, headers)


@blp.route("")
class Plans(MethodView):
    @operation("CarePlan", "read")
    @blp.arguments(PlanListQuerySchema, location="query")
    @blp.response(200, PlanSchema(many=True), headers=LINK_HEADER)
    def get(self, query: dict[str, Any]) -> tuple[list[PlanRow], int, dict[str, str]]:
        """Plans your organisation is a party to, newest first, filtered; follow the Link header's next."""
        plans = reads.search_plans(
            get_session(),
            current_actor(),
            clock(),
            queries.PlanQuery(
                statuses=frozenset(query["status"]),
                kind=query["kind"],
                kommunekode=query["kommunekode"],
                patient_id=query["patient_id"],
                review_before=query["review_before"],
                after_id=query["after"],
                limit=query["limit"],
            ),
        )
        return keyset_page(plans, query["limit"])

    @operation("CarePlan", "write")
    @blp.arguments(PlanCreateSchema)
    @blp.response(201, PlanSchema, headers=ETAG_HEADER)
    def post(self, data: dict[str, Any]) -> Reply:
        """Create a draft for a pathway, prefilled with the parties and the previous plan's content."""
        plan = services.create_draft(
            get_session(),
            current_actor(),
            clock(),
            pathway_id=data["pathway_id"],
            kind=data["kind"],
        )
        return _reply(plan, 201)


@blp.route("/<id:plan_id>")
class PlanById(MethodView):
    @operation("CarePlan", "read")
    @blp.response(200, PlanSchema)
    def get(self, plan_id: int) -> Reply:
        """Read the current version of a plan (audited)."""
        return _reply(reads.read_plan(get_session(), current_actor(), clock(), plan_id=plan_id))

    @operation("CarePlan", "write")
    @blp.arguments(PlanEditSchema)
    @blp.response(200, PlanSchema)
    @blp.doc(**CHANGE_DOC)
    def patch(self, data: dict[str, Any], plan_id: int) -> Reply:
        """Change sections and dates; a new immutable version is made."""
        plan = services.edit_plan(
            get_session(),
            current_actor(),
            clock(),
            plan_id=plan_id,
            expected_version=optional_version("plan"),
            **data,
        )
        return _reply(plan)


def _action(name: str, schema: type | None, summary: str, call: Any) -> None:
    """POST /plans/{id}/<name>: one lifecycle step, guarded by If-Match."""

    def view(*args: Any, plan_id: int) -> Reply:
        data = args[0] if args else {}
        plan = call(
            get_session(),
            current_actor(),
            clock(),
            plan_id=plan_id,
            expected_version=optional_version("plan"),
            **data,
        )
        return _reply(plan, 201 if getattr(plan, "id", plan_id) != plan_id else 200)

    view.__name__ = f"plan_{name}"
    view.__doc__ = summary
    decorated = blp.doc(**CHANGE_DOC)(view)
    decorated = blp.response(200, PlanSchema)(decorated)
    if schema is not None:
        decorated = blp.arguments(schema)(decorated)
    decorated = operation("CarePlan", "write")(decorated)
    blp.route(f"/<id:plan_id>/{name}", methods=["POST"], endpoint=f"plan_{name}")(decorated)


_action("propose", None, "Send a complete draft to the parties.", services.propose)
_action(
    "responses",
    RespondSchema,
    "A party accepts, rejects (with a reason) or comments.",
    answers.respond,
)
_action(
    "participation",
    ParticipationSchema,
    "Record the patient's choice: refusal makes a §13b plan; consent may create a superseding agreement.",
    services.record_participation,
)
_action(
    "activation", None, "Activate an agreed plan after discharge.", services.activate_on_discharge
)
_action(
    "revision",
    ReasonSchema,
    "Start a revision of an agreed or active plan.",
    services.start_revision,
)
_action(
    "end",
    EndPlanSchema,
    "End the plan (review outcome, death, moved, no longer needed).",
    services.end_plan,
)
_action(
    "missing-party",
    MissingPartySchema,
    "The responsible ward records why a required party is missing (e.g. the patient has no GP); "
    "with a reason the plan can be proposed and agreed without it. An empty reason takes it back.",
    parties.record_missing_party,
)
_action("withdrawal", ReasonSchema, "Withdraw a draft or proposed plan.", services.withdraw)


@blp.route("/<id:plan_id>/versions")
class PlanVersions(MethodView):
    @operation("CarePlan", "read")
    @blp.response(200, VersionSchema(many=True))
    def get(self, plan_id: int) -> list[Any]:
        """Every immutable version, oldest first."""
        return list(
            queries.get_plan(
                get_session(),
                current_actor(),
                clock(),
                plan_id=plan_id,
                purpose="list plan versions",
                with_history=True,
            ).versions
        )


@blp.route("/<id:plan_id>/diff")
class PlanDiff(MethodView):
    @operation("CarePlan", "read")
    @blp.arguments(DiffQuerySchema, location="query")
    @blp.response(200, DiffSchema)
    def get(self, query: dict[str, int], plan_id: int) -> Any:
        """Field-level differences between two versions."""
        return queries.compare_versions(
            get_session(),
            current_actor(),
            clock(),
            plan_id=plan_id,
            from_number=query["from_"],
            to_number=query["to"],
        )


@blp.route("/<id:plan_id>/share")
class SharePlan(MethodView):
    @operation("Communication", "write")
    @blp.arguments(ShareSchema)
    @blp.response(202, SharedSchema)
    def post(self, data: dict[str, Any], plan_id: int) -> Any:
        """Send the plan to an organisation as a MedCom CareCommunication (queued; 202). A MedCom
        Acknowledgement later marks it delivered, which is not read and not accepted."""
        return share_plan(
            get_session(),
            current_actor(),
            clock(),
            plan_id=plan_id,
            organisation_id=data["organisation_id"],
            category=data["category"],
            config=current_app.config,
        )
