"""CarePlan <-> PlanRecord: discharge agreements (§13a) and coordination plans (§13b).

Native elements:
- ``category``: our CodeSystem ``plan-kind`` (``discharge-agreement`` | ``coordination-plan``).
- ``status``: the nearest R4 code (draft, proposed -> ``draft``; agreed, active, under_revision -> ``active``;
  ended -> ``completed``; withdrawn -> ``revoked``). Our exact status is the extension ``plan-status``
  (valueCoding, CodeSystem ``plan-status``); on input it must agree with ``status``, and without it
  ``status`` alone decides (draft, active, completed, revoked; other codes are not supported).
- ``intent`` ``plan``; ``subject`` Patient; ``encounter`` the pathway (``Encounter/{pathway_id}``);
  ``period`` valid_from/valid_to as dates; ``created``; ``author`` the responsible Organization;
  ``careTeam`` ``CareTeam/{care_team_id}``; ``replaces`` the plan this one supersedes;
  ``meta.versionId``/``lastUpdated`` the row version and update time.

Extensions (``https://carepath.example/fhir/StructureDefinition/...``), so the round trip is lossless:
- ``plan-content-version`` (valueInteger): the content version the parties respond to (``Plan.version``).
- ``plan-section``, one per section present (also an empty one): a complex extension whose sub-extension
  ``section`` (valueCode) is the SectionKey and whose other sub-extensions are the section's fields, named
  as in ``pathways/data/plan_rules.toml``: a ``text`` field is one valueString, a ``list`` field one
  valueString per item (in order), a ``date`` field a valueDate. These extensions are authoritative.
  ``note`` repeats each non-empty section as readable markdown for clients that ignore extensions; notes
  are ignored on input.
- ``plan-participant``, one per party, in order: sub-extensions ``role`` (valueCode from CodeSystem
  ``care-team-role``), ``required`` (valueBoolean), ``response`` (valueCode from ``participant-response``),
  ``organization`` (valueReference) and ``name`` (valueString). The same parties are served as the CareTeam
  (``careteam.care_team_for_plan``).
- ``patient-participation``: sub-extensions ``status`` (valueCode from ``patient-participation``) and
  ``refusedOn`` (valueDate).
- ``plan-missing-party``, one per required party that is not on the plan with the recorded reason why
  (e.g. the patient has no GP): sub-extensions ``role`` (valueCode from ``care-team-role``) and ``reason``
  (valueString); a ``note`` says the same in words. Both are ignored on input (the REST API's
  ``/plans/{id}/missing-party`` records them).
- ``plan-review-date`` (valueDate), ``plan-agreed-at``/``plan-activated-at``/``plan-ended-at``
  (valueDateTime), ``plan-ended-reason`` (valueString).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.careplan import CarePlan as FhirCarePlan
from pathways.errors import ErrorCollector, ValidationFailed
from pathways.labels import label
from pathways.plan_content import clean_sections, section_fields
from pathways.plans import (
    Participant,
    ParticipantRole,
    PatientParticipation,
    Plan,
    PlanKind,
    PlanStatus,
    ResponseStatus,
    SectionKey,
)

from fhir_adapters.codesystems import (
    CARE_TEAM_ROLE,
    PARTICIPANT_RESPONSE,
    PATIENT_PARTICIPATION,
    PLAN_KIND,
    PLAN_STATUS,
    CareTeamRole,
)
from fhir_adapters.common import (
    JSON,
    build,
    built_json,
    codings,
    compact,
    extension_url,
    extensions,
    fhir_datetime,
    meta,
    parse_date,
    parse_datetime,
    parse_reference,
    parse_reference_int,
    parse_resource,
    read_identity,
    reference,
    single_extension,
    value_of,
)
from fhir_adapters.records import PlanRecord

PLAN_STATUS_EXTENSION = extension_url("plan-status")
CONTENT_VERSION_EXTENSION = extension_url("plan-content-version")
SECTION_EXTENSION = extension_url("plan-section")
PARTICIPANT_EXTENSION = extension_url("plan-participant")
PATIENT_PARTICIPATION_EXTENSION = extension_url("patient-participation")
REVIEW_DATE_EXTENSION = extension_url("plan-review-date")
AGREED_AT_EXTENSION = extension_url("plan-agreed-at")
ACTIVATED_AT_EXTENSION = extension_url("plan-activated-at")
ENDED_AT_EXTENSION = extension_url("plan-ended-at")
ENDED_REASON_EXTENSION = extension_url("plan-ended-reason")
MISSING_PARTY_EXTENSION = extension_url("plan-missing-party")
SECTION_KEY = "section"  # the sub-extension naming the section (no section field may be called so)

FHIR_STATUS: dict[PlanStatus, str] = {
    PlanStatus.DRAFT: "draft",
    PlanStatus.PROPOSED: "draft",
    PlanStatus.AGREED: "active",
    PlanStatus.ACTIVE: "active",
    PlanStatus.UNDER_REVISION: "active",
    PlanStatus.ENDED: "completed",
    PlanStatus.WITHDRAWN: "revoked",
}
_STATUS_FROM_FHIR = {
    "draft": PlanStatus.DRAFT,
    "active": PlanStatus.ACTIVE,
    "completed": PlanStatus.ENDED,
    "revoked": PlanStatus.WITHDRAWN,
}
R4_CAREPLAN_STATUS = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)

# Domain field names (pathways.plans / plan use cases) as FHIRPath, for errors a use case raises.
FIELD_PATHS = {
    "kind": "CarePlan.category",
    "status": "CarePlan.status",
    "valid_from": "CarePlan.period.start",
    "valid_to": "CarePlan.period.end",
    "patient_id": "CarePlan.subject",
    "pathway_id": "CarePlan.encounter",
    "responsible_organisation_id": "CarePlan.author",
    "sections": "CarePlan.extension",
    "participants": "CarePlan.extension",
}


def section_title(key: SectionKey, language: str = "da") -> str:
    """The section's title for people (pathways/data/labels.toml), in Danish unless ``en``."""
    return label("plan_section", key, language)


# ------------------------------------------------------------------ to FHIR


def _section_extension(key: SectionKey, content: Mapping[str, object]) -> JSON:
    schema = section_fields()[key]
    subs: list[JSON] = [{"url": SECTION_KEY, "valueCode": key.value}]
    for name, value in content.items():
        kind = schema.get(name, "list" if isinstance(value, list | tuple) else "text")
        if kind == "list" and isinstance(value, list | tuple):
            subs.extend({"url": name, "valueString": str(item)} for item in value)
        elif kind == "date":
            text = value.isoformat() if isinstance(value, date) else str(value)
            subs.append({"url": name, "valueDate": text})
        else:
            subs.append({"url": name, "valueString": str(value)})
    return {"url": SECTION_EXTENSION, "extension": subs}


def _section_note(key: SectionKey, content: Mapping[str, object], language: str) -> JSON:
    lines = [f"**{section_title(key, language)}**", ""]
    for name, value in content.items():
        shown = "; ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        lines.append(f"- {name.replace('_', ' ')}: {shown}")
    return {"text": "\n".join(lines)}


def _participant_extension(participant: Participant) -> JSON:
    subs: list[JSON] = [
        {"url": "role", "valueCode": CARE_TEAM_ROLE.code(CareTeamRole.of(participant.role))},
        {"url": "required", "valueBoolean": participant.is_required},
        {"url": "response", "valueCode": PARTICIPANT_RESPONSE.code(participant.response)},
    ]
    if participant.organisation_id is not None:
        subs.append(
            {
                "url": "organization",
                "valueReference": reference("Organization", participant.organisation_id),
            }
        )
    if participant.name:
        subs.append({"url": "name", "valueString": participant.name})
    return {"url": PARTICIPANT_EXTENSION, "extension": subs}


def _extensions(record: PlanRecord) -> list[JSON]:
    plan = record.plan
    out: list[JSON] = [
        {"url": PLAN_STATUS_EXTENSION, "valueCoding": PLAN_STATUS.coding(plan.status)},
        {"url": CONTENT_VERSION_EXTENSION, "valueInteger": plan.version},
    ]
    for key in SectionKey:
        if key in plan.sections:
            out.append(_section_extension(key, plan.sections[key]))
    out.extend(_participant_extension(p) for p in plan.participants)
    if (
        plan.patient_participation is not PatientParticipation.UNKNOWN
        or record.patient_refused_on is not None
    ):
        subs: list[JSON] = [
            {"url": "status", "valueCode": PATIENT_PARTICIPATION.code(plan.patient_participation)}
        ]
        if record.patient_refused_on is not None:
            subs.append({"url": "refusedOn", "valueDate": record.patient_refused_on.isoformat()})
        out.append({"url": PATIENT_PARTICIPATION_EXTENSION, "extension": subs})
    if plan.review_on is not None:
        out.append({"url": REVIEW_DATE_EXTENSION, "valueDate": plan.review_on.isoformat()})
    for url, when in (
        (AGREED_AT_EXTENSION, record.agreed_at),
        (ACTIVATED_AT_EXTENSION, record.activated_at),
        (ENDED_AT_EXTENSION, record.ended_at),
    ):
        if when is not None:
            out.append({"url": url, "valueDateTime": fhir_datetime(when)})
    if record.ended_reason:
        out.append({"url": ENDED_REASON_EXTENSION, "valueString": record.ended_reason})
    for role, reason in _missing_parties(record):
        out.append(
            {
                "url": MISSING_PARTY_EXTENSION,
                "extension": [
                    {"url": "role", "valueCode": CARE_TEAM_ROLE.code(CareTeamRole.of(role))},
                    {"url": "reason", "valueString": reason},
                ],
            }
        )
    return out


def _missing_parties(record: PlanRecord) -> list[tuple[ParticipantRole, str]]:
    """The recorded reasons for missing parties, in the order of the roles; unknown roles left out."""
    reasons = dict(record.missing_party_reasons)
    return [(role, reasons[role.value]) for role in ParticipantRole if reasons.get(role.value)]


def _missing_party_note(role: ParticipantRole, reason: str, language: str) -> JSON:
    heading = label("text", "missing_party", language)
    return {"text": f"**{heading}: {label('participant_role', role, language)}**\n\n{reason}"}


def care_plan_to_fhir(record: PlanRecord, language: str = "da") -> FhirCarePlan:
    """The CarePlan; ``title`` and the ``note`` headings are in ``language`` (Danish unless ``en``)."""
    return build(FhirCarePlan, _care_plan_body(record, language))


def care_plan_json(record: PlanRecord, *, validate: bool = True, language: str = "da") -> JSON:
    """``care_plan_to_fhir`` as wire JSON (validated, not serialised again: see ``built_json``)."""
    return built_json(FhirCarePlan, _care_plan_body(record, language), validate=validate)


def _care_plan_body(record: PlanRecord, language: str) -> JSON:
    plan = record.plan
    notes = [
        _section_note(key, plan.sections[key], language)
        for key in SectionKey
        if plan.sections.get(key)
    ]
    notes += [
        _missing_party_note(role, reason, language) for role, reason in _missing_parties(record)
    ]
    return compact(
        {
            "resourceType": "CarePlan",
            "id": None if record.id is None else str(record.id),
            "meta": meta(record.version, record.updated_at),
            "extension": _extensions(record),
            "replaces": (
                [reference("CarePlan", record.supersedes_plan_id)]
                if record.supersedes_plan_id is not None
                else []
            ),
            "status": FHIR_STATUS[plan.status],
            "intent": "plan",
            "category": [{"coding": [PLAN_KIND.coding(plan.kind)]}],
            "title": label("plan_kind", plan.kind, language),
            "subject": reference("Patient", record.patient_id),
            "encounter": (
                reference("Encounter", record.pathway_id) if record.pathway_id is not None else None
            ),
            "period": compact(
                {
                    "start": plan.valid_from.isoformat() if plan.valid_from else None,
                    "end": plan.valid_to.isoformat() if plan.valid_to else None,
                }
            ),
            "created": fhir_datetime(record.created_at) if record.created_at else None,
            "author": reference("Organization", record.responsible_organisation_id),
            "careTeam": (
                [reference("CareTeam", record.care_team_id)] if record.care_team_id else []
            ),
            "note": notes,
        }
    )


# ------------------------------------------------------------------ from FHIR


def care_plan_from_fhir(data: object) -> PlanRecord:
    """A CarePlan as a PlanRecord; raises ValidationFailed naming FHIRPath expressions."""
    res = parse_resource(data, FhirCarePlan)
    errors = ErrorCollector()
    rid, version, updated = read_identity(res, "CarePlan", errors)
    status = _read_status(res, errors)
    if res.get("intent") != "plan":
        errors.add("CarePlan.intent", "intent must be 'plan'", "code-invalid")
    kind = _read_kind(res, errors)
    patient = _required_reference(res, "subject", ("Patient",), errors)
    author = _required_reference(res, "author", ("Organization",), errors)
    pathway = None
    if "encounter" in res:
        pathway = parse_reference_int(
            res["encounter"], ("Encounter",), "CarePlan.encounter", errors
        )
    period = res.get("period", {})
    valid_from = (
        parse_date(period["start"], "CarePlan.period.start", errors) if "start" in period else None
    )
    valid_to = parse_date(period["end"], "CarePlan.period.end", errors) if "end" in period else None
    if valid_from and valid_to and valid_to < valid_from:
        errors.add("CarePlan.period.end", "the plan cannot end before it starts", "invariant")
    created = (
        parse_datetime(res["created"], "CarePlan.created", errors) if "created" in res else None
    )
    care_team_id = None
    for i, element in enumerate(res.get("careTeam", [])[:1]):
        team = parse_reference(element, ("CareTeam",), f"CarePlan.careTeam[{i}]", errors)
        care_team_id = None if team is None else team[1]
    supersedes = None
    for i, element in enumerate(res.get("replaces", [])[:1]):
        ref = parse_reference_int(element, ("CarePlan",), f"CarePlan.replaces[{i}]", errors)
        supersedes = None if ref is None else ref[1]
    content_version = 1
    version_ext = _single_value(res, CONTENT_VERSION_EXTENSION, "Integer", errors)
    if version_ext is not None:
        content_version = version_ext[1]
        if content_version < 1:
            errors.add(version_ext[0], "the plan content version must be 1 or more", "value")
    sections = _read_sections(res, errors)
    participants = _read_participants(res, errors)
    participation, refused_on = _read_participation(res, errors)
    review = _single_value(res, REVIEW_DATE_EXTENSION, "Date", errors)
    review_on = None if review is None else parse_date(review[1], review[0], errors)
    stamps = [
        _timestamp(res, url, errors)
        for url in (AGREED_AT_EXTENSION, ACTIVATED_AT_EXTENSION, ENDED_AT_EXTENSION)
    ]
    reason = _single_value(res, ENDED_REASON_EXTENSION, "String", errors)
    ended_reason: str = "" if reason is None else reason[1]
    errors.raise_if_any()
    assert status is not None
    assert kind is not None
    assert patient is not None
    assert author is not None
    plan = Plan(
        kind=kind,
        status=status,
        version=content_version,
        sections=sections,
        participants=participants,
        patient_participation=participation,
        review_on=review_on,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    return PlanRecord(
        plan=plan,
        patient_id=patient,
        responsible_organisation_id=author,
        id=rid,
        version=version,
        updated_at=updated,
        pathway_id=None if pathway is None else pathway[1],
        created_at=created,
        agreed_at=stamps[0],
        activated_at=stamps[1],
        ended_at=stamps[2],
        ended_reason=ended_reason,
        patient_refused_on=refused_on,
        supersedes_plan_id=supersedes,
        care_team_id=care_team_id,
    )


def plan_status_from_fhir(status: object, plan_status_code: object = None) -> PlanStatus:
    """Our PlanStatus from a CarePlan.status (and, if given, our exact plan-status code)."""
    errors = ErrorCollector()
    res: JSON = {"status": status}
    if plan_status_code is not None:
        res["extension"] = [
            {
                "url": PLAN_STATUS_EXTENSION,
                "valueCoding": {"system": PLAN_STATUS.url, "code": plan_status_code},
            }
        ]
    found = _read_status(res, errors)
    errors.raise_if_any()
    assert found is not None
    return found


def _read_status(res: JSON, errors: ErrorCollector) -> PlanStatus | None:
    fhir_status = res.get("status")
    if fhir_status not in R4_CAREPLAN_STATUS:
        errors.add(
            "CarePlan.status",
            f"unknown CarePlan status {fhir_status!r}; R4 codes: {', '.join(sorted(R4_CAREPLAN_STATUS))}",
            "code-invalid",
        )
        return None
    found = single_extension(res, PLAN_STATUS_EXTENSION, "CarePlan", errors)
    if found is None:
        status = _STATUS_FROM_FHIR.get(fhir_status)
        if status is None:
            errors.add(
                "CarePlan.status",
                f"status {fhir_status!r} is not supported; use draft, active, completed or revoked",
                "not-supported",
            )
        return status
    where, ext = found
    coding = ext.get("valueCoding") or {}
    exact = PLAN_STATUS.member(coding.get("code"))
    if exact is None or coding.get("system", PLAN_STATUS.url) != PLAN_STATUS.url:
        errors.add(
            f"{where}.valueCoding.code",
            f"unknown plan status; known: {', '.join(PLAN_STATUS.codes)}",
            "code-invalid",
        )
        return None
    if FHIR_STATUS[exact] != fhir_status:
        errors.add(
            "CarePlan.status",
            f"status {fhir_status!r} contradicts the plan status {PLAN_STATUS.code(exact)!r} "
            f"(expected {FHIR_STATUS[exact]!r})",
            "invariant",
        )
        return None
    return exact


def _read_kind(res: JSON, errors: ErrorCollector) -> PlanKind | None:
    for c, concept in enumerate(res.get("category", [])):
        for where, coding in codings(concept, PLAN_KIND.url, f"CarePlan.category[{c}]"):
            kind = PLAN_KIND.member(coding.get("code"))
            if kind is None:
                errors.add(
                    f"{where}.code",
                    f"unknown plan kind; known: {', '.join(PLAN_KIND.codes)}",
                    "code-invalid",
                )
            return kind
    errors.add(
        "CarePlan.category", f"a category coding from {PLAN_KIND.url} is required", "required"
    )
    return None


def _required_reference(
    res: JSON, element: str, types: tuple[str, ...], errors: ErrorCollector
) -> int | None:
    if element not in res:
        errors.add(f"CarePlan.{element}", f"{element} is required", "required")
        return None
    ref = parse_reference_int(res[element], types, f"CarePlan.{element}", errors)
    return None if ref is None else ref[1]


def _single_value(
    res: JSON, url: str, value_type: str, errors: ErrorCollector
) -> tuple[str, Any] | None:
    """(path of the value, value) of a simple extension that may occur once."""
    found = single_extension(res, url, "CarePlan", errors)
    if found is None:
        return None
    where, ext = found
    value = value_of(ext, value_type, where, errors)
    return None if value is None else (f"{where}.value{value_type}", value)


def _timestamp(res: JSON, url: str, errors: ErrorCollector) -> datetime | None:
    found = single_extension(res, url, "CarePlan", errors)
    if found is None:
        return None
    where, ext = found
    value = value_of(ext, "DateTime", where, errors)
    return None if value is None else parse_datetime(value, f"{where}.valueDateTime", errors)


def _subs(ext: JSON, where: str) -> Iterator[tuple[str, str, JSON]]:
    """(path, url, sub-extension) of a complex extension."""
    for j, sub in enumerate(ext.get("extension", [])):
        yield f"{where}.extension[{j}]", sub.get("url", ""), sub


def _read_sections(res: JSON, errors: ErrorCollector) -> dict[SectionKey, dict[str, object]]:
    schema = section_fields()
    raw: dict[str, dict[str, Any]] = {}
    paths: dict[str, str] = {}
    for where, ext in extensions(res, SECTION_EXTENSION, "CarePlan"):
        key = _section_key(ext, where, errors)
        if key is None:
            continue
        if key.value in raw:
            errors.add(where, f"section {key.value} occurs twice", "structure")
            continue
        content: dict[str, Any] = {}
        for path, name, sub in _subs(ext, where):
            if name == SECTION_KEY:
                continue
            kind = schema[key].get(name)
            if kind is None:
                errors.add(
                    f"{path}.url",
                    f"unknown field of section {key.value}; known: {', '.join(sorted(schema[key]))}",
                    "code-invalid",
                )
                continue
            paths.setdefault(f"sections.{key.value}.{name}", path)
            value = value_of(sub, "Date" if kind == "date" else "String", path, errors)
            if kind == "list":
                content.setdefault(name, []).append(value)
            elif name in content:
                errors.add(path, f"field {name} may occur only once", "structure")
            else:
                content[name] = value
        raw[key.value] = content
        paths[f"sections.{key.value}"] = where
    try:
        cleaned = clean_sections(raw)
    except ValidationFailed as exc:
        for error in exc.errors:
            errors.add(paths.get(error.field, "CarePlan.extension"), error.message, error.code)
        return {}
    return {SectionKey(k): dict(v) for k, v in cleaned.items()}


def _section_key(ext: JSON, where: str, errors: ErrorCollector) -> SectionKey | None:
    for path, name, sub in _subs(ext, where):
        if name == SECTION_KEY:
            try:
                return SectionKey(sub.get("valueCode", ""))
            except ValueError:
                errors.add(
                    f"{path}.valueCode",
                    f"unknown section; known: {', '.join(k.value for k in SectionKey)}",
                    "code-invalid",
                )
                return None
    errors.add(
        f"{where}.extension", f"a '{SECTION_KEY}' sub-extension (valueCode) is required", "required"
    )
    return None


def _read_participants(res: JSON, errors: ErrorCollector) -> tuple[Participant, ...]:
    parties: list[Participant] = []
    for where, ext in extensions(res, PARTICIPANT_EXTENSION, "CarePlan"):
        values: dict[str, tuple[str, JSON]] = {}
        for path, name, sub in _subs(ext, where):
            if name in values:
                errors.add(path, f"'{name}' may occur only once", "structure")
            values[name] = (path, sub)
        role = None
        if "role" not in values:
            errors.add(f"{where}.extension", "a 'role' sub-extension is required", "required")
        else:
            path, sub = values["role"]
            found = CARE_TEAM_ROLE.member(sub.get("valueCode"))
            role = None if found is None else found.participant_role
            if role is None:
                errors.add(f"{path}.valueCode", "unknown participant role", "code-invalid")
        response = ResponseStatus.PENDING
        if "response" in values:
            path, sub = values["response"]
            answer = PARTICIPANT_RESPONSE.member(sub.get("valueCode"))
            if answer is None:
                errors.add(
                    f"{path}.valueCode",
                    f"unknown response; known: {', '.join(PARTICIPANT_RESPONSE.codes)}",
                    "code-invalid",
                )
            response = answer or response
        required = True
        if "required" in values:
            path, sub = values["required"]
            required = bool(value_of(sub, "Boolean", path, errors))
        organisation_id = None
        if "organization" in values:
            path, sub = values["organization"]
            ref = parse_reference_int(
                value_of(sub, "Reference", path, errors),
                ("Organization",),
                f"{path}.valueReference",
                errors,
            )
            organisation_id = None if ref is None else ref[1]
        name = ""
        if "name" in values:
            path, sub = values["name"]
            name = str(value_of(sub, "String", path, errors) or "")
        if role is not None:
            parties.append(Participant(role, required, response, organisation_id, name))
    return tuple(parties)


def _read_participation(
    res: JSON, errors: ErrorCollector
) -> tuple[PatientParticipation, date | None]:
    found = single_extension(res, PATIENT_PARTICIPATION_EXTENSION, "CarePlan", errors)
    if found is None:
        return PatientParticipation.UNKNOWN, None
    where, ext = found
    participation = PatientParticipation.UNKNOWN
    refused_on = None
    for path, name, sub in _subs(ext, where):
        if name == "status":
            code = sub.get("valueCode")
            member = PATIENT_PARTICIPATION.member(code)
            if member is None:
                errors.add(
                    f"{path}.valueCode",
                    f"unknown participation; known: {', '.join(PATIENT_PARTICIPATION.codes)}",
                    "code-invalid",
                )
            participation = member or participation
        elif name == "refusedOn":
            value = value_of(sub, "Date", path, errors)
            refused_on = None if value is None else parse_date(value, f"{path}.valueDate", errors)
    return participation, refused_on
