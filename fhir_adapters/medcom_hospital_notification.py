"""MedCom HospitalNotification (sygehusadvis) messages, read into a plain ``HospitalNotice``.

Follows the HospitalNotification IG (http://medcomfhir.dk/ig/hospitalnotification, 3.0.x): the
MessageHeader's focus is the Encounter (status, class, period, leave-period extension, episodeOfCare
identifiers, serviceProvider = the ward in charge), the Patient carries the CPR number, and the Provenance whose
target is this message's MessageHeader carries the activity code and, for every message after the first one
of a stay, a reference to the previous message (role ``revision``; ``removal`` when cancelling).
The table of activity code, Encounter.status and Patient.deceased combinations is MedCom's "Overview of
HospitalNotification codes".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pathways.errors import ValidationFailed
from pathways.identifiers import (
    CPR_SYSTEM,
    LPR3_SYSTEMS,
    MUNICIPALITY_SYSTEM,
    SOR_SYSTEM,
    X_ECPR_SYSTEM,
    validate_cpr,
    validate_kommunekode,
    validate_sor,
    validate_x_ecpr,
)
from pathways.stays import EncounterClass, PathwayEventType

from fhir_adapters.medcom_common import (
    ACTIVITY_CODES_SYSTEM,
    INCONSISTENT,
    MUNICIPALITY_EXTENSION,
    REQUIRED,
    SOR_ENDPOINT_PREFIX,
    V3_CONFIDENTIALITY_SYSTEM,
    VALUE_UNKNOWN,
    EpisodeIdentifier,
    MedComEvent,
    MedComOrganization,
    Problems,
    as_dict,
    as_list,
    as_text,
    codings,
    dicts,
    header_organization,
    must,
    open_message,
    parse_instant,
    primary_destination,
    read_organization,
    referenced_id,
    structure_error,
)
from fhir_adapters.medcom_fast import fast_check

HOSPITAL_NOTIFICATION_PROFILE = "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/"
MESSAGE_PROFILE = HOSPITAL_NOTIFICATION_PROFILE + "medcom-hospitalNotification-message"
MESSAGE_HEADER_PROFILE = HOSPITAL_NOTIFICATION_PROFILE + "medcom-hospitalNotification-messageHeader"
ENCOUNTER_PROFILE = HOSPITAL_NOTIFICATION_PROFILE + "medcom-hospitalNotification-encounter"
# The extension id really is spelt "hospitalnotifiation" in the published IG; accept a corrected spelling too.
LEAVE_PERIOD_EXTENSION = (
    HOSPITAL_NOTIFICATION_PROFILE + "medcom-hospitalnotifiation-leave-period-extension"
)
_LEAVE_PERIOD_EXTENSIONS = (
    LEAVE_PERIOD_EXTENSION,
    HOSPITAL_NOTIFICATION_PROFILE + "medcom-hospitalnotification-leave-period-extension",
)
REPORT_OF_ADMISSION_EXTENSION = (
    HOSPITAL_NOTIFICATION_PROFILE + "medcom-messaging-reportOfAdmissionExtension"
)
REPORT_OF_ADMISSION_RECIPIENT_EXTENSION = (
    HOSPITAL_NOTIFICATION_PROFILE + "medcom-messaging-reportOfAdmissionRecipientExtension"
)


class EncounterStatus(StrEnum):
    """Encounter.status values a HospitalNotification may carry."""

    IN_PROGRESS = "in-progress"
    ON_LEAVE = "onleave"
    FINISHED = "finished"
    ENTERED_IN_ERROR = "entered-in-error"


class HospitalNotificationActivity(StrEnum):
    """Provenance.activity codes of a HospitalNotification (CodeSystem medcom-messaging-activityCodes)."""

    ADMIT_EMERGENCY = "admit-emergency"
    REVISE_ADMIT_EMERGENCY = "revise-admit-emergency"
    CANCEL_ADMIT_EMERGENCY = "cancel-admit-emergency"
    ADMIT_INPATIENT = "admit-inpatient"
    REVISE_ADMIT_INPATIENT = "revise-admit-inpatient"
    CANCEL_ADMIT_INPATIENT = "cancel-admit-inpatient"
    START_LEAVE_INPATIENT = "start-leave-inpatient"
    REVISE_START_LEAVE_INPATIENT = "revise-start-leave-inpatient"
    CANCEL_START_LEAVE_INPATIENT = "cancel-start-leave-inpatient"
    END_LEAVE_INPATIENT = "end-leave-inpatient"
    REVISE_END_LEAVE_INPATIENT = "revise-end-leave-inpatient"
    CANCEL_END_LEAVE_INPATIENT = "cancel-end-leave-inpatient"
    DISCHARGE_EMERGENCY_HOME = "discharge-emergency-home"
    REVISE_DISCHARGE_EMERGENCY_HOME = "revise-discharge-emergency-home"
    CANCEL_DISCHARGE_EMERGENCY_HOME = "cancel-discharge-emergency-home"
    DISCHARGE_INPATIENT_HOME = "discharge-inpatient-home"
    REVISE_DISCHARGE_INPATIENT_HOME = "revise-discharge-inpatient-home"
    CANCEL_DISCHARGE_INPATIENT_HOME = "cancel-discharge-inpatient-home"

    @property
    def is_revise(self) -> bool:
        return self.value.startswith("revise-")

    @property
    def is_cancel(self) -> bool:
        return self.value.startswith("cancel-")

    @property
    def base(self) -> HospitalNotificationActivity:
        """The activity a revise-/cancel- code corrects (itself for the six base codes)."""
        return HospitalNotificationActivity(
            self.value.removeprefix("revise-").removeprefix("cancel-")
        )

    @property
    def pathway_event(self) -> PathwayEventType:
        """The pathway event of the base activity (a cancel undoes that event; see HospitalNotice)."""
        return _PATHWAY_EVENT[self.base]

    @property
    def expected_status(self) -> EncounterStatus:
        """Encounter.status that goes with this code (MedCom "Overview of HospitalNotification codes")."""
        if self.is_cancel:
            return _CANCEL_STATUS[self.base]
        return _BASE_STATUS[self.base]

    @property
    def is_emergency(self) -> bool:
        return "emergency" in self.value


_A = HospitalNotificationActivity
_PATHWAY_EVENT = {
    _A.ADMIT_EMERGENCY: PathwayEventType.ADMITTED,
    _A.ADMIT_INPATIENT: PathwayEventType.ADMITTED,
    _A.START_LEAVE_INPATIENT: PathwayEventType.LEAVE_STARTED,
    _A.END_LEAVE_INPATIENT: PathwayEventType.LEAVE_ENDED,
    _A.DISCHARGE_EMERGENCY_HOME: PathwayEventType.DISCHARGED,
    _A.DISCHARGE_INPATIENT_HOME: PathwayEventType.DISCHARGED,
}
_BASE_STATUS = {
    _A.ADMIT_EMERGENCY: EncounterStatus.IN_PROGRESS,
    _A.ADMIT_INPATIENT: EncounterStatus.IN_PROGRESS,
    _A.START_LEAVE_INPATIENT: EncounterStatus.ON_LEAVE,
    _A.END_LEAVE_INPATIENT: EncounterStatus.IN_PROGRESS,
    _A.DISCHARGE_EMERGENCY_HOME: EncounterStatus.FINISHED,
    _A.DISCHARGE_INPATIENT_HOME: EncounterStatus.FINISHED,
}
# After a cancellation the Encounter is back where it was before the cancelled event.
_CANCEL_STATUS = {
    _A.ADMIT_EMERGENCY: EncounterStatus.ENTERED_IN_ERROR,
    _A.ADMIT_INPATIENT: EncounterStatus.ENTERED_IN_ERROR,
    _A.START_LEAVE_INPATIENT: EncounterStatus.IN_PROGRESS,
    _A.END_LEAVE_INPATIENT: EncounterStatus.ON_LEAVE,
    _A.DISCHARGE_EMERGENCY_HOME: EncounterStatus.IN_PROGRESS,
    _A.DISCHARGE_INPATIENT_HOME: EncounterStatus.IN_PROGRESS,
}


@dataclass(frozen=True, slots=True)
class NoticeExpressions:
    """Where in the Bundle a notice's parts are (FHIRPath), for the issues of a refusal that concerns them."""

    sender: str  # the sender Organization's identifiers
    receiver: str  # the primary receiver Organization's identifiers
    patient: str  # the Patient's identifiers (CPR)
    patient_name: str  # the Patient's names
    address: str  # the Patient's addresses (where the municipality code is)
    encounter: str  # the Encounter
    episode: str  # the Encounter's episodeOfCare
    ward: str  # Encounter.serviceProvider
    activity: str  # the current Provenance's activity code
    corrects: str  # the current Provenance's entity.what: the message a revise/cancel corrects


@dataclass(frozen=True, slots=True)
class HospitalNotice:
    """One HospitalNotification, as plain data. Timestamps are timezone-aware UTC.

    ``occurred_at`` is the time of the event the activity reports: Encounter.period.start (admit),
    leavePeriod.start (start leave), leavePeriod.end (end leave), Encounter.period.end (discharge, death).
    For a cancel-* message whose Encounter no longer carries that timestamp it is the Provenance
    occurredDateTime, i.e. when the cancellation was sent.
    """

    message_id: (
        str  # MessageHeader.id: the message identity (acknowledged, referenced by later messages)
    )
    bundle_id: str | None
    sent_at: datetime  # Bundle.timestamp
    activity: HospitalNotificationActivity
    occurred_at: datetime
    encounter_status: EncounterStatus
    encounter_class: EncounterClass | None  # v3-ActCode: IMP (inpatient) | EMER (acute ambulant)
    stay_start: datetime  # Encounter.period.start
    stay_end: datetime | None  # Encounter.period.end
    leave_start: datetime | None
    leave_end: datetime | None
    cpr: str | None  # 10 digits, no hyphen
    replacement_cpr: str | None  # X-eCPR, when the patient has no CPR number
    patient_name: str | None
    patient_deceased: bool
    patient_confidential: bool  # meta.security R (name/address protection): show less, log more
    kommunekode: str | None  # 3 digits, from Patient.address dk-core-municipalityCodes
    episode_of_care: EpisodeIdentifier  # preferred: the LPR3 identifier when there is one
    episode_identifiers: tuple[
        EpisodeIdentifier, ...
    ]  # every accepted identifier, in message order
    sender: MedComOrganization  # endpoint = MessageHeader.source.endpoint (where the acknowledgement goes)
    receiver: MedComOrganization  # endpoint = the primary destination's endpoint
    previous_message_id: str | None  # Provenance.entity.what of this message's Provenance
    provenance_occurred_at: datetime
    ward_sor: str | None  # Encounter.serviceProvider: the department in charge of the stay
    ward_name: str | None
    report_of_admission_requested: bool
    expressions: NoticeExpressions

    @property
    def corrects_message_id(self) -> str | None:
        """The message a revise-/cancel- notice corrects (None for the six base activities)."""
        if self.activity.is_revise or self.activity.is_cancel:
            return self.previous_message_id
        return None

    @property
    def patient_died(self) -> bool:
        """MedCom "MORS": the stay ended with the patient's death (activity stays the current one)."""
        return self.patient_deceased and self.encounter_status is EncounterStatus.FINISHED

    @property
    def pathway_event(self) -> PathwayEventType:
        """What happened to the stay: the activity's event, except that a death ends the stay."""
        if self.patient_died and not self.activity.is_cancel:
            return PathwayEventType.DISCHARGED
        return self.activity.pathway_event


def _is_episode_system(system: str) -> bool:
    if system in LPR3_SYSTEMS:
        return True
    sor = system.removeprefix(SOR_ENDPOINT_PREFIX)
    if sor == system:
        return False
    try:
        validate_sor(sor)
    except ValidationFailed:
        return False
    return True


def _is_urn_uuid(value: str) -> bool:
    if not value.startswith("urn:uuid:"):
        return False
    try:
        uuid.UUID(value.removeprefix("urn:uuid:"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Patient:
    cpr: str | None
    replacement_cpr: str | None
    name: str | None
    deceased: bool
    confidential: bool
    kommunekode: str | None


@dataclass(frozen=True, slots=True)
class _Encounter:
    status: EncounterStatus | None
    encounter_class: EncounterClass | None
    stay_start: datetime | None
    stay_end: datetime | None
    leave_field: str
    leave_start: datetime | None
    leave_end: datetime | None
    episodes: tuple[EpisodeIdentifier, ...]
    ward_sor: str | None
    ward_name: str | None


class _Reader:
    """Reads one HospitalNotification; structural problems raise at once, content problems are collected."""

    def __init__(self, bundle_json: object) -> None:
        self.message = open_message(
            bundle_json, MedComEvent.HOSPITAL_NOTIFICATION, fast_check=fast_check
        )
        self.problems = Problems()
        header = self.message.header()
        self.sender_index, _ = header_organization(
            self.message, header.get("sender"), "Bundle.entry[0].resource.sender"
        )
        destination_index, self.destination = primary_destination(self.message)
        self.receiver_index, _ = header_organization(
            self.message,
            self.destination.get("receiver"),
            f"Bundle.entry[0].resource.destination[{destination_index}].receiver",
        )
        self.encounter_index = self._encounter_index()
        patients = self.message.of_type("Patient")
        if len(patients) != 1:
            raise structure_error(
                "Bundle.entry.where(resource.is(Patient))",
                f"a HospitalNotification holds exactly one Patient, not {len(patients)}",
                REQUIRED,
            )
        self.patient_index = patients[0]
        self.provenance_index = self._current_provenance()
        self.activity = self._activity()
        self.corrects_field = self.path(self.provenance_index, ".entity")

    def expressions(self) -> NoticeExpressions:
        encounter = self.path(self.encounter_index)
        return NoticeExpressions(
            sender=self.path(self.sender_index, ".identifier"),
            receiver=self.path(self.receiver_index, ".identifier"),
            patient=self.path(self.patient_index, ".identifier"),
            patient_name=self.path(self.patient_index, ".name"),
            address=self.path(self.patient_index, ".address"),
            encounter=encounter,
            episode=f"{encounter}.episodeOfCare",
            ward=f"{encounter}.serviceProvider",
            activity=self.path(self.provenance_index, ".activity"),
            corrects=self.corrects_field,
        )

    def path(self, index: int, rest: str = "") -> str:
        return self.message.path(index, rest)

    # ------------------------------------------------------------ structure
    def _encounter_index(self) -> int:
        focus = [
            self.message.resolve(ref, "Encounter")
            for _, ref in dicts(self.message.header().get("focus"))
        ]
        index = next((i for i in focus if i is not None), None)
        encounters = self.message.of_type("Encounter")
        if index is None and not focus and len(encounters) == 1:
            index = encounters[0]
        if index is None:
            raise structure_error(
                "Bundle.entry[0].resource.focus[0].reference",
                "the MessageHeader focus must reference the Encounter in the Bundle",
                REQUIRED,
            )
        return index

    def _current_provenance(self) -> int:
        header_id = as_text(self.message.header().get("id"))
        provenances = self.message.of_type("Provenance")
        if not provenances:
            raise structure_error(
                "Bundle.entry.resource.ofType(Provenance)",
                "a MedCom message needs a Provenance for the current message",
                REQUIRED,
            )
        for index in provenances:
            for _, target in dicts(self.message.resources[index].get("target")):
                resolved = self.message.resolve(target, "MessageHeader")
                if resolved == 0 or (resolved is None and referenced_id(target) == header_id):
                    return index
        raise structure_error(
            "Bundle.entry.resource.ofType(Provenance).target",
            "no Provenance targets this message's MessageHeader",
            REQUIRED,
        )

    def _activity(self) -> HospitalNotificationActivity:
        index = self.provenance_index
        found = codings(self.message.resources[index].get("activity"))
        if not found:
            raise structure_error(
                self.path(index, ".activity.coding[0].code"),
                "the Provenance activity code is required",
                REQUIRED,
            )
        j, coding = found[0]
        code = as_text(coding.get("code"))
        try:
            activity = HospitalNotificationActivity(code or "")
        except ValueError:
            raise structure_error(
                self.path(index, f".activity.coding[{j}].code"),
                f"'{code}' is not a HospitalNotification activity code",
                VALUE_UNKNOWN,
            ) from None
        if as_text(coding.get("system")) not in (None, ACTIVITY_CODES_SYSTEM):
            raise structure_error(
                self.path(index, f".activity.coding[{j}].system"),
                f"the activity code system must be {ACTIVITY_CODES_SYSTEM}",
                VALUE_UNKNOWN,
            )
        return activity

    # ------------------------------------------------------------ content
    def patient(self) -> _Patient:
        index = self.patient_index
        patient = self.message.resources[index]
        cpr, replacement = self._patient_identifiers(index, patient)
        deceased = patient.get("deceasedBoolean") is True or "deceasedDateTime" in patient
        confidential = any(
            s.get("code") == "R" and s.get("system") in (None, V3_CONFIDENTIALITY_SYSTEM)
            for _, s in dicts((as_dict(patient.get("meta")) or {}).get("security"))
        )
        return _Patient(
            cpr,
            replacement,
            _patient_name(patient),
            deceased,
            confidential,
            self._kommunekode(index, patient),
        )

    def _patient_identifiers(
        self, index: int, patient: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        cpr = replacement = None
        identified = False  # a CPR/X-eCPR identifier was present, valid or not
        for j, ident in dicts(patient.get("identifier")):
            system = ident.get("system")
            field = self.path(index, f".identifier[{j}].value")
            try:
                if system == CPR_SYSTEM and cpr is None:
                    identified = True
                    cpr = validate_cpr(ident.get("value"), field)
                elif system == X_ECPR_SYSTEM and replacement is None:
                    identified = True
                    replacement = validate_x_ecpr(ident.get("value"), field)
            except ValidationFailed as exc:
                self.problems.extend(exc)
        if not identified:
            self.problems.add(
                self.path(index, ".identifier"),
                f"the patient needs a CPR number ({CPR_SYSTEM})",
                REQUIRED,
            )
        return cpr, replacement

    def _kommunekode(self, index: int, patient: dict[str, Any]) -> str | None:
        for j, address in dicts(patient.get("address")):
            for k, ext in dicts(address.get("extension")):
                if ext.get("url") != MUNICIPALITY_EXTENSION:
                    continue
                for m, coding in codings(ext.get("valueCodeableConcept")):
                    if coding.get("system") not in (None, MUNICIPALITY_SYSTEM):
                        continue
                    field = f".address[{j}].extension[{k}].valueCodeableConcept.coding[{m}].code"
                    try:
                        return validate_kommunekode(coding.get("code"), self.path(index, field))
                    except ValidationFailed as exc:
                        self.problems.extend(exc)
                        return None
        return None

    def encounter(self, *, deceased: bool) -> _Encounter:
        index = self.encounter_index
        encounter = self.message.resources[index]
        status: EncounterStatus | None = None
        try:
            status = EncounterStatus(as_text(encounter.get("status")) or "")
        except ValueError:
            self.problems.add(
                self.path(index, ".status"),
                "must be one of: " + ", ".join(s.value for s in EncounterStatus),
                VALUE_UNKNOWN,
            )
        died = deceased and status is EncounterStatus.FINISHED  # MedCom "MORS" keeps the activity
        if status is not None and status is not self.activity.expected_status and not died:
            self.problems.add(
                self.path(index, ".status"),
                f"'{status}' does not go with activity '{self.activity}' "
                f"(expected '{self.activity.expected_status}')",
                INCONSISTENT,
            )
        period = as_dict(encounter.get("period")) or {}
        start = parse_instant(
            period.get("start"), self.path(index, ".period.start"), self.problems, required=True
        )
        end = parse_instant(
            period.get("end"), self.path(index, ".period.end"), self.problems, required=False
        )
        leave_field, leave_start, leave_end = self._leave_period(index, encounter)
        ward_sor, ward_name = self._ward(encounter)
        return _Encounter(
            status=status,
            encounter_class=self._encounter_class(index, encounter),
            stay_start=start,
            stay_end=end,
            leave_field=leave_field,
            leave_start=leave_start,
            leave_end=leave_end,
            episodes=self._episodes(index, encounter),
            ward_sor=ward_sor,
            ward_name=ward_name,
        )

    def _encounter_class(self, index: int, encounter: dict[str, Any]) -> EncounterClass | None:
        code = as_text((as_dict(encounter.get("class")) or {}).get("code"))
        if code is None:
            return None
        try:
            return EncounterClass(code)
        except ValueError:
            self.problems.add(
                self.path(index, ".class.code"),
                f"'{code}' is not a HospitalNotification encounter class (IMP or EMER)",
                VALUE_UNKNOWN,
            )
            return None

    def _leave_period(
        self, index: int, encounter: dict[str, Any]
    ) -> tuple[str, datetime | None, datetime | None]:
        """(expression of the leave Period, its start, its end)."""
        for k, ext in dicts(encounter.get("extension")):
            if ext.get("url") in _LEAVE_PERIOD_EXTENSIONS:
                period = as_dict(ext.get("valuePeriod")) or {}
                field = self.path(index, f".extension[{k}].valuePeriod")
                start = parse_instant(
                    period.get("start"), f"{field}.start", self.problems, required=True
                )
                end = parse_instant(
                    period.get("end"), f"{field}.end", self.problems, required=False
                )
                return field, start, end
        return self.path(index, f".extension('{LEAVE_PERIOD_EXTENSION}').valuePeriod"), None, None

    def _episodes(self, index: int, encounter: dict[str, Any]) -> tuple[EpisodeIdentifier, ...]:
        found: list[EpisodeIdentifier] = []
        seen_any = malformed = False
        for j, episode in dicts(encounter.get("episodeOfCare")):
            ident = as_dict(episode.get("identifier"))
            if ident is None:
                continue
            seen_any = True
            system, value = as_text(ident.get("system")), as_text(ident.get("value"))
            field = self.path(index, f".episodeOfCare[{j}].identifier")
            if system is None or value is None:
                malformed = True
                self.problems.add(
                    f"{field}.{'value' if system else 'system'}",
                    "episode of care identifier needs a system and a value",
                    REQUIRED,
                )
            elif not _is_episode_system(system):
                continue  # another identifier beside ours: ignored (the IG allows several)
            elif system in LPR3_SYSTEMS and not _is_urn_uuid(value):
                malformed = True
                self.problems.add(
                    f"{field}.value", "an LPR3 episode of care id is urn:uuid: + a UUID"
                )
            else:
                found.append(EpisodeIdentifier(system, value))
        if not found and not malformed:
            self.problems.add(
                self.path(index, ".episodeOfCare[0].identifier.system")
                if seen_any
                else self.path(index, ".episodeOfCare.identifier"),
                "an episode of care identifier (LPR3, or the hospital's own with system "
                f"{SOR_ENDPOINT_PREFIX}<SOR>) is required",
                REQUIRED,
            )
        return tuple(found)

    def _ward(self, encounter: dict[str, Any]) -> tuple[str | None, str | None]:
        index = self.message.resolve(encounter.get("serviceProvider"), "Organization")
        if index is None:
            return None, None
        ward = self.message.resources[index]
        for j, ident in dicts(ward.get("identifier")):
            if ident.get("system") == SOR_SYSTEM:
                try:
                    sor = validate_sor(
                        ident.get("value"), self.path(index, f".identifier[{j}].value")
                    )
                except ValidationFailed as exc:
                    self.problems.extend(exc)
                    return None, as_text(ward.get("name"))
                return sor, as_text(ward.get("name"))
        return None, as_text(ward.get("name"))

    def previous_message_id(self) -> str | None:
        index = self.provenance_index
        entities = dicts(self.message.resources[index].get("entity"))
        # the previous message is the entity with role revision (removal when cancelling)
        entities.sort(key=lambda e: e[1].get("role") not in ("revision", "removal"))
        if entities:
            k, entity = entities[0]
            self.corrects_field = self.path(index, f".entity[{k}].what")
            previous = referenced_id(entity.get("what"))
            if previous is None:
                self.problems.add(
                    self.path(index, f".entity[{k}].what.reference"),
                    "must reference the previous message (MessageHeader/<id>)",
                    REQUIRED,
                )
            return previous
        if self.activity.is_revise or self.activity.is_cancel:
            self.problems.add(
                self.path(index, ".entity"),
                f"a {self.activity} message must reference the message it corrects",
                REQUIRED,
            )
        return None

    def event_time(self, encounter: _Encounter, *, died: bool) -> datetime | None:
        """The time of the reported event, or None (an error is recorded unless this is a cancel)."""
        event = self.activity.pathway_event
        if died or event is PathwayEventType.DISCHARGED:
            moment, missing = encounter.stay_end, self.path(self.encounter_index, ".period.end")
        elif event is PathwayEventType.LEAVE_STARTED:
            moment, missing = encounter.leave_start, f"{encounter.leave_field}.start"
        elif event is PathwayEventType.LEAVE_ENDED:
            moment, missing = encounter.leave_end, f"{encounter.leave_field}.end"
        else:
            moment = encounter.stay_start
            missing = self.path(self.encounter_index, ".period.start")
        reported = any(e.field == missing for e in self.problems.errors)
        if moment is None and not self.activity.is_cancel and not reported:
            self.problems.add(
                missing, f"the time of the event is required for '{self.activity}'", REQUIRED
            )
        return moment


def _patient_name(patient: dict[str, Any]) -> str | None:
    names = dicts(patient.get("name"))
    official = next((n for _, n in names if n.get("use") == "official"), None)
    chosen = official or (names[0][1] if names else None)
    if chosen is None:
        return None
    given = [g.strip() for g in as_list(chosen.get("given")) if isinstance(g, str) and g.strip()]
    family = as_text(chosen.get("family"))
    return " ".join([*given, *([family] if family else [])]) or as_text(chosen.get("text"))


def _with_endpoint(org: MedComOrganization, endpoint: str | None) -> MedComOrganization:
    return MedComOrganization(org.sor, org.gln, org.name, endpoint)


def parse_hospital_notification(bundle_json: dict[str, Any]) -> HospitalNotice:
    """Read a MedCom HospitalNotification message Bundle (FHIR R4 JSON, already decoded).

    Raises MessageStructureInvalid (the input is not a readable HospitalNotification) or
    MessageContentInvalid (every content problem found, each with its FHIRPath-like expression).
    """
    reader = _Reader(bundle_json)
    message, problems = reader.message, reader.problems
    header = message.header()
    sent_at = parse_instant(
        message.bundle.get("timestamp"), "Bundle.timestamp", problems, required=True
    )
    sender = read_organization(message, reader.sender_index, problems)
    receiver = read_organization(message, reader.receiver_index, problems)
    patient = reader.patient()
    encounter = reader.encounter(deceased=patient.deceased)
    provenance_field = message.path(reader.provenance_index, ".occurredDateTime")
    provenance_occurred = parse_instant(
        message.resources[reader.provenance_index].get("occurredDateTime"),
        provenance_field,
        problems,
        required=True,
    )
    previous = reader.previous_message_id()
    died = patient.deceased and encounter.status is EncounterStatus.FINISHED
    occurred_at = reader.event_time(encounter, died=died)
    report_requested = any(
        ext.get("url") == REPORT_OF_ADMISSION_EXTENSION and ext.get("valueBoolean") is True
        for _, ext in dicts(header.get("extension"))
    )
    problems.raise_if_any()

    lpr3 = [e for e in encounter.episodes if e.is_lpr3]
    encounter_field = message.path(reader.encounter_index)
    provenance_at = must(provenance_occurred, provenance_field)
    return HospitalNotice(
        message_id=must(as_text(header.get("id")), "Bundle.entry[0].resource.id"),
        bundle_id=as_text(message.bundle.get("id")),
        sent_at=must(sent_at, "Bundle.timestamp"),
        activity=reader.activity,
        occurred_at=occurred_at or provenance_at,
        encounter_status=must(encounter.status, f"{encounter_field}.status"),
        encounter_class=encounter.encounter_class,
        stay_start=must(encounter.stay_start, f"{encounter_field}.period.start"),
        stay_end=encounter.stay_end,
        leave_start=encounter.leave_start,
        leave_end=encounter.leave_end,
        cpr=patient.cpr,
        replacement_cpr=patient.replacement_cpr,
        patient_name=patient.name,
        patient_deceased=patient.deceased,
        patient_confidential=patient.confidential,
        kommunekode=patient.kommunekode,
        episode_of_care=(lpr3 or list(encounter.episodes))[0],
        episode_identifiers=encounter.episodes,
        sender=_with_endpoint(
            sender, as_text((as_dict(header.get("source")) or {}).get("endpoint"))
        ),
        receiver=_with_endpoint(receiver, as_text(reader.destination.get("endpoint"))),
        previous_message_id=previous,
        provenance_occurred_at=provenance_at,
        ward_sor=encounter.ward_sor,
        ward_name=encounter.ward_name,
        report_of_admission_requested=report_requested,
        expressions=reader.expressions(),
    )
