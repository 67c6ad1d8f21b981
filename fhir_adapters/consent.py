"""Consent from the patient's participation recorded on a plan (ConsentRecord), read-only.

One Consent per plan whose participation is known, with the plan's id: ``Consent/{plan id}``.

- ``scope`` ``treatment`` (consentscope): under psykiatriloven §13a the patient agrees to take part in a
  discharge agreement about treatment and support after discharge; refusing makes it a §13b coordination
  plan made without them. Neither is a privacy consent: the parties share what the plan needs under §13c
  whatever the patient chose, so ``patient-privacy`` would claim a control the patient does not have.
- ``category``: LOINC 59284-0 (patient consent) and the plan's kind (our CodeSystem ``plan-kind``).
- ``provision.type``: ``permit`` when the patient takes part, ``deny`` when they refused; ``dateTime`` the
  day they refused (the day of consent is not recorded, so a permit has none).
- ``status``: ``active`` while the plan is open and the choice stands; ``inactive`` once the plan ended or
  was withdrawn, or when a refusal was overtaken by consent to a new agreement that supersedes the plan.
- ``patient`` and ``performer`` the Patient (it is their choice); ``organization`` the responsible ward,
  with its SOR code; ``policyRule`` names the law (text: no code system applies).
- The plan: R4 allows ``sourceReference`` only to a Consent, DocumentReference, Contract or
  QuestionnaireResponse, so the CarePlan is ``provision.data`` (meaning ``related``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from fhir.resources.R4B.consent import Consent as FhirConsent
from pathways.plans import PatientParticipation, PlanKind, PlanStatus

from fhir_adapters.codesystems import PLAN_KIND
from fhir_adapters.common import JSON, build, compact, meta, reference
from fhir_adapters.communication import organisation_reference
from fhir_adapters.records import OrganisationRecord

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
PATIENT_CONSENT_LOINC = "59284-0"
POLICY_RULE = (
    "Psykiatriloven § 13 a (udskrivningsaftale med patientens samtykke) og § 13 b "
    "(koordinationsplan, når patienten ikke ønsker at medvirke)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentRecord:
    """The participation recorded on plan ``plan_id`` (never ``unknown``: that plan has no Consent)."""

    plan_id: int
    patient_id: int
    kind: PlanKind
    plan_status: PlanStatus
    participation: PatientParticipation
    responsible: OrganisationRecord
    refused_on: date | None = None
    superseded_by_consent: bool = (
        False  # a later agreement the patient consented to supersedes the plan
    )
    updated_at: datetime | None = None


def has_consent(participation: PatientParticipation) -> bool:
    return participation is not PatientParticipation.UNKNOWN


def consent_status(record: ConsentRecord) -> str:
    if not record.plan_status.is_open:
        return "inactive"
    if record.participation is PatientParticipation.REFUSED and record.superseded_by_consent:
        return "inactive"
    return "active"


def consent_to_fhir(record: ConsentRecord) -> FhirConsent:
    if not has_consent(record.participation):
        raise ValueError(f"plan {record.plan_id}: no participation recorded, no Consent")
    refused = record.participation is PatientParticipation.REFUSED
    patient = reference("Patient", record.patient_id)
    body: JSON = compact(
        {
            "resourceType": "Consent",
            "id": str(record.plan_id),
            "meta": meta(None, record.updated_at),
            "status": consent_status(record),
            "scope": {
                "coding": [
                    {"system": CONSENT_SCOPE_SYSTEM, "code": "treatment", "display": "Treatment"}
                ]
            },
            "category": [
                {"coding": [{"system": LOINC, "code": PATIENT_CONSENT_LOINC}]},
                {"coding": [PLAN_KIND.coding(record.kind)]},
            ],
            "patient": patient,
            "dateTime": (record.refused_on.isoformat() if refused and record.refused_on else None),
            "performer": [patient],
            "organization": [organisation_reference(record.responsible)],
            "policyRule": {"text": POLICY_RULE},
            "provision": {
                "type": "deny" if refused else "permit",
                "data": [
                    {"meaning": "related", "reference": reference("CarePlan", record.plan_id)}
                ],
            },
        }
    )
    return build(FhirConsent, body)
