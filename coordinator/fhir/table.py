"""THE table of what the FHIR facade serves. The router dispatches on it, search parameters are checked
against it, and the CapabilityStatement (``GET /fhir/metadata``) is rendered from it: nothing is served
that is not listed here, and nothing listed here is left unserved."""

from __future__ import annotations

from coordinator.fhir.core import InstanceOperation, Param, ResourceType
from coordinator.fhir.resources import (
    appointment,
    auditevent,
    careplan,
    careteam,
    codesystem,
    communication,
    consent,
    encounter,
    organization,
    patient,
    practitioner,
    provenance,
    subscription,
    task,
)

SP = "http://hl7.org/fhir/SearchParameter"
OD = "http://hl7.org/fhir/OperationDefinition"
CPR = "urn:oid:1.2.208.176.1.2"

# Parameters every search takes besides the table's own (result parameters of our own making).
COUNT = "_count"
CURSOR = "_cursor"
INCLUDE = "_include"
FORMAT = "_format"
PAGING_DOC = (
    f"Pages are keyset pages: {COUNT} (1-100) sets the size, the Bundle's next link carries "
    f"{CURSOR}."
)

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        name="Patient",
        documentation=(
            "Patients with a care relation to the caller (§13c). Search by CPR "
            f"({CPR}|<number>), best as POST Patient/_search (keeps the number out of URLs), or "
            "by _id. A number or id without a relation finds nothing, like an unknown one; the "
            "Bundle's links name what was found by _id, never the number. Every read and search "
            "is audited; an unknown id and another organisation's patient get the same 403. "
            "Create registers a patient (CPR or X-eCPR, name, home municipality, GP clinic); "
            f"If-None-Exist takes identifier={CPR}|<number>: a registered patient is the match "
            "(200), shown by id only (meta.security REDACTED) without a care relation. "
            'Update (PUT, If-Match W/"n" with meta.versionId) changes generalPractitioner only: '
            "Organization/<id> or an identifier (ydernummer urn:oid:1.2.208.176.1.4, SOR "
            "urn:oid:1.2.208.176.1.1) of a GP clinic; without one, the extension gp-absent-reason "
            "(valueString) must say why the patient has no GP. Any other change is refused (422, "
            "naming the element). Plans not agreed yet follow the GP."
        ),
        scope="Patient",
        read=patient.read,
        search=patient.search,
        create=patient.create,
        conditional_create=True,
        conditional=patient.conditional,
        update=patient.update,
        params=(
            Param(
                "identifier",
                "token",
                f"CPR number: {CPR}|<10 digits> (other systems match nothing).",
                f"{SP}/Patient-identifier",
            ),
            Param(
                "_id",
                "token",
                "The patient's id; the self and next links of a search by CPR name the patients "
                "found this way (_id=none when nothing was found), never the number.",
                f"{SP}/Resource-id",
            ),
        ),
        operations=(
            InstanceOperation(
                "everything",
                f"{OD}/Patient-everything",
                "The patient, their CarePlans, CareTeams, Encounters, EpisodesOfCare, the Tasks "
                "in your inbox, Communications, Consents and Provenance, as far as your scopes "
                "reach.",
                patient.everything,
            ),
        ),
        versioning="versioned-update",
    ),
    ResourceType(
        name="Organization",
        documentation="The organisation directory (no patient data) for any signed-in party; "
        "system administrators register organisations (create; If-None-Exist takes identifier) "
        'and correct the name, SOR code, GLN and e-mail (update, If-Match W/"n"; type, partOf, '
        "kommunekode, ydernummer and region cannot change). " + PAGING_DOC,
        scope="Organization",
        read=organization.read,
        search=organization.search,
        create=organization.create,
        conditional_create=True,
        update=organization.update,
        params=(
            Param(
                "identifier",
                "token",
                "SOR (urn:oid:1.2.208.176.1.1), kommunekode (dk-core-municipality-codes), "
                "ydernummer (urn:oid:1.2.208.176.1.4), GLN (https://www.gs1.org/gln, also "
                "urn:oid:1.3.88) or region (dk-core-regional-subdivision-codes).",
                f"{SP}/Organization-identifier",
            ),
            Param("name", "string", "Part of the name, any case.", f"{SP}/Organization-name"),
        ),
        versioning="versioned-update",
    ),
    ResourceType(
        name="Practitioner",
        documentation="Staff of the organisations (no patient data); the id is shared with "
        "PractitionerRole.",
        scope="Practitioner",
        read=practitioner.read_practitioner,
        versioning="no-version",
    ),
    ResourceType(
        name="PractitionerRole",
        documentation="A member of staff's organisation and role (one per person, same id as the "
        "Practitioner). System clients need system/Practitioner.read.",
        scope="Practitioner",
        read=practitioner.read_role,
        versioning="no-version",
    ),
    ResourceType(
        name="CarePlan",
        documentation=(
            "Discharge agreements (§13a) and coordination plans (§13b). meta.versionId is the "
            "plan's version (the REST API's ETag); vread and _history serve every version since "
            "the FHIR history was kept (older ones answer 410). "
            "Create makes a draft for the stay in CarePlan.encounter (the parties follow from "
            "the stay); If-None-Exist takes CarePlan search parameters, e.g. "
            'encounter=Encounter/7&status=draft,active. Update (PUT, If-Match W/"n") changes the '
            "content (sections, review date, period.end); the status, the parties and the "
            "patient's participation change through the plan's lifecycle. Without patient the "
            "search covers the plans the caller's organisation is a party to; with patient, all of "
            "that patient's plans (a care relation is required). " + PAGING_DOC
        ),
        scope="CarePlan",
        read=careplan.read,
        vread=careplan.vread,
        history=careplan.history,
        search=careplan.search,
        params=(
            Param(
                "patient",
                "reference",
                "The patient (Patient/<id>).",
                f"{SP}/clinical-patient",
                chains=("identifier",),
            ),
            Param(
                "category",
                "token",
                "discharge-agreement or coordination-plan (CodeSystem plan-kind).",
                f"{SP}/CarePlan-category",
            ),
            Param(
                "status",
                "token",
                "R4 status (draft, active, completed, revoked) or our exact plan-status code "
                "(CodeSystem plan-status, e.g. proposed).",
                f"{SP}/CarePlan-status",
            ),
            Param(
                "date",
                "date",
                "The plan's period (eq: within; ge, gt, le, lt: overlaps). Drafts have none.",
                f"{SP}/clinical-date",
            ),
            Param(
                "encounter",
                "reference",
                "The stay the plan is made for (Encounter/<id>).",
                f"{SP}/CarePlan-encounter",
            ),
        ),
        includes=(careplan.INCLUDE_CARE_TEAM, careplan.INCLUDE_PATIENT),
        create=careplan.create,
        conditional_create=True,
        update=careplan.update,
    ),
    ResourceType(
        name="CareTeam",
        documentation=(
            "patient-<id>-contacts: the patient's fixed contact persons, every period; "
            "plan-<id>: the parties of a plan. Create adds fixed contact persons to the patient's "
            "team, or (with the care-team-plan extension) confirms a plan's parties, which follow "
            "from the stay. " + PAGING_DOC
        ),
        scope="CareTeam",
        read=careteam.read,
        search=careteam.search,
        params=(
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/clinical-patient"),
            Param(
                "participant",
                "reference",
                "A member: Practitioner (contact or backup person), Organization or Patient.",
                f"{SP}/CareTeam-participant",
            ),
        ),
        create=careteam.create,
        versioning="no-version",
    ),
    ResourceType(
        name="Encounter",
        documentation="A stay at a ward (pathway); same id as its EpisodeOfCare. Newest stay first. "
        + PAGING_DOC,
        scope="Encounter",
        read=encounter.read_encounter,
        search=encounter.search_encounters,
        params=(
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/clinical-patient"),
        ),
    ),
    ResourceType(
        name="EpisodeOfCare",
        documentation="A stay at a ward as an episode, with its LPR3 episode of care identifier. "
        "Newest stay first. " + PAGING_DOC,
        scope="Encounter",
        read=encounter.read_episode,
        search=encounter.search_episodes,
        params=(
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/clinical-patient"),
        ),
    ),
    ResourceType(
        name="Appointment",
        documentation="A patient's network meetings (netværksmøder), read-only: requested "
        "(proposed), scheduled (booked), held (fulfilled, with who took part and the citizen's own "
        "words in the extension citizen-words) or cancelled. Newest first; an overdue action agreed "
        "at one is a Task (gap rule network_meeting_action_overdue). " + PAGING_DOC,
        scope="Appointment",
        read=appointment.read,
        search=appointment.search,
        params=(
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/clinical-patient"),
        ),
    ),
    ResourceType(
        name="Task",
        documentation=(
            "Two kinds. Task/<id>: reminders (gaps in a transition, code from CodeSystem gap-rule) "
            "in the caller's inbox: their own, their organisation's and those escalated to them. "
            "Task/answer-<id>: a party's answer to a plan (code approve, focus the CarePlan, owner "
            "the party's Organization, or the Patient, whose answer the ward records), one per "
            "required party of the plans the caller's organisation is a party to. Update (PUT, "
            'If-Match W/"n", system/Task.write) runs the same use cases as the REST API: an answer '
            "Task takes received, accepted or rejected (reason in statusReason.text), a new last "
            "note with status received is a comment, the ETag is the plan's; a reminder Task takes "
            "accepted (acknowledge), completed or cancelled (dismiss, with statusReason.text). "
            "Reads and changes are audited. Reminders come first, then answers by plan, newest "
            "first. " + PAGING_DOC
        ),
        scope="Task",
        read=task.read,
        search=task.search,
        update=task.update,
        params=(
            Param(
                "owner",
                "reference",
                "The owning Organization, Practitioner or Patient (filters the page).",
                f"{SP}/Task-owner",
            ),
            Param(
                "status",
                "token",
                "Reminders: requested, accepted, on-hold, completed, cancelled. Answers: draft, "
                "requested, received, accepted, rejected, cancelled.",
                f"{SP}/Task-status",
            ),
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/Task-patient"),
            Param(
                "focus",
                "reference",
                "The CarePlan (answers, and reminders about it) or Encounter (reminders about "
                "a stay without a plan).",
                f"{SP}/Task-focus",
            ),
            Param(
                "code",
                "token",
                "approve (http://hl7.org/fhir/CodeSystem/task-code) for answers, a gap-rule code "
                "for reminders.",
                f"{SP}/Task-code",
            ),
        ),
    ),
    ResourceType(
        name="Communication",
        documentation=(
            "The MedCom CareCommunications carepath sent about a patient (a plan shared with a party, "
            "the planned discharge date for the home municipality); never their text, never reminder "
            "mails. status: in-progress (queued), completed (sent; received is the MedCom "
            "Acknowledgement), stopped (delivery gave up). Reads and searches need a care relation "
            "and are audited; searches name the patient. " + PAGING_DOC
        ),
        scope="Communication",
        read=communication.read,
        search=communication.search,
        params=(
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/clinical-patient"),
            Param(
                "recipient",
                "reference",
                "The receiving Organization (matched by its GLN, the messaging address).",
                f"{SP}/Communication-recipient",
            ),
            Param(
                "status",
                "token",
                "in-progress, completed or stopped.",
                f"{SP}/Communication-status",
            ),
        ),
        versioning="no-version",
    ),
    ResourceType(
        name="Consent",
        documentation=(
            "The patient's choice recorded on a plan (Consent/<plan id>): permit when they take part "
            "in the discharge agreement (§13a), deny when they refused (§13b coordination plan); scope "
            "treatment. Read like the plan (care relation, audited); a plan without a recorded choice "
            "has none. Searches name the patient. Consent is not a SMART scope resource here: system "
            "clients need system/CarePlan.read. " + PAGING_DOC
        ),
        scope="CarePlan",
        read=consent.read,
        search=consent.search,
        params=(
            Param("patient", "reference", "The patient (Patient/<id>).", f"{SP}/Consent-patient"),
        ),
        versioning="no-version",
    ),
    ResourceType(
        name="Provenance",
        documentation=(
            "One per CarePlan version in the FHIR history: target CarePlan/<id>/_history/<n>, "
            "recorded, activity CREATE (version 1) or UPDATE, the content's author and the responsible "
            "ward as custodian. Read like the plan (care relation, audited). Provenance is not a SMART "
            "scope resource here: system clients need system/CarePlan.read. " + PAGING_DOC
        ),
        scope="CarePlan",
        read=provenance.read,
        search=provenance.search,
        params=(
            Param(
                "target",
                "reference",
                "The CarePlan (CarePlan/<id>): every stored version of it.",
                f"{SP}/Provenance-target",
            ),
            Param(
                "patient",
                "reference",
                "The patient (Patient/<id>): the versions of all their plans.",
                f"{SP}/Provenance-patient",
            ),
        ),
        versioning="no-version",
    ),
    ResourceType(
        name="Subscription",
        documentation=(
            "Be told instead of polling (R4 rest-hook). criteria: <Type>?patient=Patient/<id> (a "
            "patient you have a care relation to) or <Type>?organization=Organization/<id> (an "
            "organisation you act for: its plans, reminders and messages), Type CarePlan, Task or "
            "Communication; the token needs system/<Type>.read too (and for a patient "
            "system/CarePlan.read, which the care-relation gate asks of every system client). "
            "channel.endpoint must be https; "
            "channel.payload application/fhir+json POSTs the changed resource, absent an empty body; "
            "channel.header lines go with every POST (shown back redacted). Accepted subscriptions "
            "are active at once. Each change is notified only when the owner may read it at that "
            "moment (care relation, scopes, a Task in their inbox); delivery retries with backoff and "
            "gives up into the outbox's dead letters. Read and search show your own subscriptions. "
            "There is no DELETE: end one with an update setting status off "
            '(If-Match W/"<versionId>"); the end may also be moved. ' + PAGING_DOC
        ),
        scope="Subscription",
        read=subscription.read,
        search=subscription.search,
        create=subscription.create,
        update=subscription.update,
        params=(
            Param(
                "status",
                "token",
                "requested, active, error or off.",
                f"{SP}/Subscription-status",
            ),
        ),
    ),
    ResourceType(
        name="AuditEvent",
        documentation="The audit log, newest first, for auditors and administrators; reading it "
        "is itself logged. " + PAGING_DOC,
        scope="AuditEvent",
        search=auditevent.search,
        params=(
            Param("patient", "reference", "Entries about a patient.", f"{SP}/AuditEvent-patient"),
            Param("agent", "reference", "Entries by a member of staff.", f"{SP}/AuditEvent-agent"),
            Param("date", "date", "When (Copenhagen calendar days).", f"{SP}/AuditEvent-date"),
            Param("outcome", "token", "0, 4 (refused) or 8.", f"{SP}/AuditEvent-outcome"),
        ),
        versioning="no-version",
    ),
    ResourceType(
        name="CodeSystem",
        documentation="Our own code systems; served without authentication.",
        scope=None,
        read=codesystem.read,
        versioning="no-version",
        public=True,
    ),
)

BY_NAME: dict[str, ResourceType] = {r.name: r for r in RESOURCES}
# System-level operations other packages serve under /fhir (coordinator.messaging): listed in the
# CapabilityStatement when their route is registered in the app.
SYSTEM_OPERATIONS = {
    "process-message": (
        f"{OD}/MessageHeader-process-message",
        "MedCom messages (HospitalNotification, CareCommunication, Acknowledgement) in; the "
        "Acknowledgement out. With async=true: 202 Accepted at once, the Acknowledgement follows "
        "as a message (poll the Content-Location).",
    ),
}
SYSTEM_INTERACTIONS = ("transaction",)
# Transaction entries that write, which the facade can carry out (method, resource type); GET entries
# may be any read or search of this table (coordinator.fhir.transaction).
TRANSACTION_ENTRIES = frozenset(
    {("POST", "CarePlan"), ("PUT", "CarePlan"), ("POST", "CareTeam"), ("PUT", "Task")}
)
