"""Encounter and EpisodeOfCare from a pathway (EncounterRecord); both carry the pathway id.

Encounter: ``status`` admitted -> ``in-progress``, on_leave -> ``onleave``, discharged/closed ->
``finished``, cancelled -> ``entered-in-error``; ``class`` as notified (v3 ActCode ``IMP`` inpatient or
``EMER`` acute ambulant); ``subject``;
``serviceProvider`` the ward; ``period`` admitted..discharged; each leave as a ``statusHistory`` entry with
status ``onleave``; the planned discharge date as DK-core's ``dk-core-planned-end-date`` extension;
``episodeOfCare`` ``EpisodeOfCare/{id}``.

EpisodeOfCare: ``identifier`` the LPR3 episode of care (system and value as received: the LPR3 system,
its published misspelling, or a hospital's local ``https://sor2.sum.dsdn.dk/#id=<SOR>``); ``status``
admitted/on_leave/discharged -> ``active``, closed -> ``finished``, cancelled -> ``entered-in-error``;
``patient``; ``managingOrganization`` the ward; ``period`` admitted..closed.
"""

from __future__ import annotations

from fhir.resources.R4B.encounter import Encounter as FhirEncounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare as FhirEpisodeOfCare
from pathways.identifiers import LPR3_SYSTEMS
from pathways.stays import PathwayStatus

from fhir_adapters.common import JSON, build, compact, fhir_datetime, meta, reference
from fhir_adapters.records import EncounterRecord

PLANNED_END_EXTENSION = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-planned-end-date"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOCAL_EPISODE_PREFIX = "https://sor2.sum.dsdn.dk/#id="

ENCOUNTER_STATUS: dict[PathwayStatus, str] = {
    PathwayStatus.ADMITTED: "in-progress",
    PathwayStatus.ON_LEAVE: "onleave",
    PathwayStatus.DISCHARGED: "finished",
    PathwayStatus.CLOSED: "finished",
    PathwayStatus.CANCELLED: "entered-in-error",
}
EPISODE_STATUS: dict[PathwayStatus, str] = {
    PathwayStatus.ADMITTED: "active",
    PathwayStatus.ON_LEAVE: "active",
    PathwayStatus.DISCHARGED: "active",
    PathwayStatus.CLOSED: "finished",
    PathwayStatus.CANCELLED: "entered-in-error",
}


def is_episode_system(system: str) -> bool:
    """An identifier system we accept for an episode of care (match episodes on system + value)."""
    return system in LPR3_SYSTEMS or (
        system.startswith(LOCAL_EPISODE_PREFIX)
        and system[len(LOCAL_EPISODE_PREFIX) :].isascii()
        and system[len(LOCAL_EPISODE_PREFIX) :].isdigit()
    )


def _period(start: str, end: str | None) -> JSON:
    return compact({"start": start, "end": end})


def encounter_to_fhir(record: EncounterRecord) -> FhirEncounter:
    history = [
        {
            "status": "onleave",
            "period": _period(
                fhir_datetime(leave.started_at),
                fhir_datetime(leave.ended_at) if leave.ended_at else None,
            ),
        }
        for leave in record.leave_periods
    ]
    body = compact(
        {
            "resourceType": "Encounter",
            "id": str(record.id),
            "meta": meta(record.version, record.updated_at),
            "extension": (
                [
                    {
                        "url": PLANNED_END_EXTENSION,
                        "valueDateTime": record.planned_discharge_on.isoformat(),
                    }
                ]
                if record.planned_discharge_on
                else []
            ),
            "status": ENCOUNTER_STATUS[record.status],
            "statusHistory": history,
            "class": {
                "system": ACT_CODE_SYSTEM,
                "code": record.encounter_class.value,
                "display": record.encounter_class.display,
            },
            "subject": reference("Patient", record.patient_id),
            "episodeOfCare": [reference("EpisodeOfCare", record.id)],
            "period": _period(
                fhir_datetime(record.admitted_at),
                fhir_datetime(record.discharged_at) if record.discharged_at else None,
            ),
            "serviceProvider": reference("Organization", record.ward_id),
        }
    )
    return build(FhirEncounter, body)


def episode_of_care_to_fhir(record: EncounterRecord) -> FhirEpisodeOfCare:
    identifier = []
    if record.episode_system and record.episode_value:
        identifier.append({"system": record.episode_system, "value": record.episode_value})
    body = compact(
        {
            "resourceType": "EpisodeOfCare",
            "id": str(record.id),
            "meta": meta(record.version, record.updated_at),
            "identifier": identifier,
            "status": EPISODE_STATUS[record.status],
            "patient": reference("Patient", record.patient_id),
            "managingOrganization": reference("Organization", record.ward_id),
            "period": _period(
                fhir_datetime(record.admitted_at),
                fhir_datetime(record.closed_at) if record.closed_at else None,
            ),
        }
    )
    return build(FhirEpisodeOfCare, body)
