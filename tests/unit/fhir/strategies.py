"""Hypothesis strategies for domain records with synthetic (never real) Danish identifiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from fhir_adapters.records import (
    CareTeamRecord,
    ContactMember,
    OrganisationRecord,
    PatientRecord,
    PlanRecord,
)
from pathways.contacts import new_contact_assignment
from pathways.geography import MUNICIPALITIES, Region
from pathways.identifiers import gs1_check_digit
from pathways.organisations import (
    ALLOWED_PARENTS,
    REQUIRED_IDENTIFIER,
    OrganisationKind,
    Sector,
    new_organisation,
)
from pathways.patients import new_patient
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

IDS = st.integers(min_value=1, max_value=2_147_483_647)
SMALL_IDS = st.integers(min_value=1, max_value=10_000)
DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
# hypothesis takes naive bounds and attaches the timezone itself
STAMPS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2060, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)

_LETTERS = "abcdefghijklmnopqrstuvwxyzæøåABCDEFGHIJKLMNOPQRSTUVWXYZÆØÅéü-'"
WORDS = st.text(alphabet=_LETTERS, min_size=1, max_size=12)
NAMES = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
# Free text as people write it: letters, digits, punctuation, inner spaces and line breaks; trimmed.
TEXT = (
    st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"))
        | st.just("\n"),
        min_size=1,
        max_size=60,
    )
    .map(str.strip)
    .filter(bool)
)
EMAILS = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.dk", fullmatch=True)


@st.composite
def cprs(draw: st.DrawFn) -> str:
    """A date-valid CPR number whose serial digit matches the century (mod 11 not required)."""
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2036, 12, 31)))
    first = draw(st.sampled_from("0123" if born.year < 2000 else "49"))
    rest = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return born.strftime("%d%m%y") + first + rest


@st.composite
def x_ecprs(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31)))
    year = draw(st.integers(min_value=0, max_value=99))
    tail = draw(st.from_regex(r"[17][A-Z]{2}[0-9]", fullmatch=True))
    return f"{day:%d%m}{year:02d}{tail}"


@st.composite
def glns(draw: st.DrawFn) -> str:
    body = draw(st.from_regex(r"[0-9]{12}", fullmatch=True))
    return body + str(gs1_check_digit(body))


@st.composite
def patient_records(draw: st.DrawFn) -> PatientRecord:
    cpr = draw(st.one_of(st.none(), cprs()))
    ecpr = draw(x_ecprs()) if cpr is None else draw(st.one_of(st.none(), x_ecprs()))
    patient = new_patient(
        given_name=draw(NAMES),
        family_name=draw(NAMES),
        kommunekode=draw(st.sampled_from(sorted(MUNICIPALITIES))),
        cpr=cpr,
        replacement_cpr=ecpr,
        is_protected=draw(st.booleans()),
    )
    return PatientRecord(
        patient=patient,
        id=draw(st.one_of(st.none(), IDS)),
        version=draw(st.one_of(st.none(), SMALL_IDS)),
        updated_at=draw(st.one_of(st.none(), STAMPS)),
        gp_clinic_id=draw(st.one_of(st.none(), IDS)),
        municipality_id=draw(st.one_of(st.none(), IDS)),
    )


@st.composite
def organisation_records(draw: st.DrawFn) -> OrganisationRecord:
    kind = draw(st.sampled_from(list(OrganisationKind)))
    maybe = st.booleans()
    values: dict[str, Any] = {
        "sor_code": draw(st.from_regex(r"[0-9]{11,18}", fullmatch=True)) if draw(maybe) else None,
        "ydernummer": (
            str(draw(st.integers(min_value=1, max_value=999_999))).zfill(6) if draw(maybe) else None
        ),
        "kommunekode": draw(st.sampled_from(sorted(MUNICIPALITIES))) if draw(maybe) else None,
        "gln": draw(glns()) if draw(maybe) else None,
        "region_code": draw(st.sampled_from(list(Region))).value if draw(maybe) else None,
    }
    required = REQUIRED_IDENTIFIER.get(kind)
    if required and values[required] is None:
        values[required] = {
            "sor_code": "12345678901",
            "ydernummer": "012345",
            "kommunekode": "101",
            "region_code": "DK-84",
        }[required]
    parent_kind = draw(st.sampled_from(sorted(ALLOWED_PARENTS[kind], key=lambda k: k or "")))
    organisation = new_organisation(
        name=draw(NAMES), kind=kind.value, parent_kind=parent_kind, **values
    )
    return OrganisationRecord(
        organisation=organisation,
        id=draw(st.one_of(st.none(), IDS)),
        version=draw(st.one_of(st.none(), SMALL_IDS)),
        updated_at=draw(st.one_of(st.none(), STAMPS)),
        parent_id=draw(IDS) if parent_kind is not None else None,
        active=draw(st.booleans()),
        email=draw(st.one_of(st.just(""), EMAILS)),
    )


def _field_value(kind: str) -> st.SearchStrategy[Any]:
    if kind == "list":
        return st.lists(TEXT, min_size=1, max_size=3)
    if kind == "date":
        return DATES.map(date.isoformat)
    return TEXT


@st.composite
def sections(draw: st.DrawFn) -> dict[SectionKey, dict[str, object]]:
    schema = section_fields()
    keys = draw(st.lists(st.sampled_from(list(SectionKey)), unique=True, max_size=5))
    raw: dict[str, dict[str, Any]] = {}
    for key in keys:
        names = draw(st.lists(st.sampled_from(sorted(schema[key])), unique=True))
        raw[key.value] = {name: draw(_field_value(schema[key][name])) for name in names}
    return {SectionKey(k): dict(v) for k, v in clean_sections(raw).items()}


PARTICIPANTS = st.builds(
    Participant,
    role=st.sampled_from(list(ParticipantRole)),
    is_required=st.booleans(),
    response=st.sampled_from(list(ResponseStatus)),
    organisation_id=st.one_of(st.none(), IDS),
    name=st.one_of(st.just(""), NAMES),
)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    valid_from = draw(st.one_of(st.none(), DATES))
    valid_to = draw(st.one_of(st.none(), DATES))
    if valid_from and valid_to and valid_to < valid_from:
        valid_from, valid_to = valid_to, valid_from
    return Plan(
        kind=draw(st.sampled_from(list(PlanKind))),
        status=draw(st.sampled_from(list(PlanStatus))),
        version=draw(SMALL_IDS),
        sections=draw(sections()),
        participants=tuple(draw(st.lists(PARTICIPANTS, max_size=5))),
        patient_participation=draw(st.sampled_from(list(PatientParticipation))),
        review_on=draw(st.one_of(st.none(), DATES)),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


PLAN_RECORDS = st.builds(
    PlanRecord,
    plan=plans(),
    patient_id=IDS,
    responsible_organisation_id=IDS,
    id=_maybe(IDS),
    version=_maybe(SMALL_IDS),
    updated_at=_maybe(STAMPS),
    pathway_id=_maybe(IDS),
    created_at=_maybe(STAMPS),
    agreed_at=_maybe(STAMPS),
    activated_at=_maybe(STAMPS),
    ended_at=_maybe(STAMPS),
    ended_reason=st.one_of(st.just(""), TEXT),
    patient_refused_on=_maybe(DATES),
    supersedes_plan_id=_maybe(IDS),
    care_team_id=_maybe(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True)),
)


@st.composite
def contact_members(draw: st.DrawFn) -> ContactMember:
    valid_from = draw(DATES)
    length = draw(_maybe(st.integers(min_value=0, max_value=400)))
    person = draw(_maybe(IDS))
    backup = draw(_maybe(IDS.filter(lambda i: i != person)))
    inbox = draw(EMAILS) if person is None else draw(st.one_of(st.just(""), EMAILS))
    assignment = new_contact_assignment(
        sector=draw(st.sampled_from(list(Sector))).value,
        valid_from=valid_from,
        valid_to=None if length is None else valid_from + timedelta(days=length),
        person_id=person,
        backup_person_id=backup,
        team_inbox=inbox,
    )
    return ContactMember(
        assignment=assignment, organisation_id=draw(IDS), assignment_id=draw(_maybe(IDS))
    )


CARE_TEAM_RECORDS = st.builds(
    CareTeamRecord,
    patient_id=IDS,
    id=_maybe(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True)),
    contacts=st.lists(contact_members(), max_size=4).map(tuple),
    plan_id=_maybe(IDS),
    participants=st.lists(PARTICIPANTS, max_size=4).map(tuple),
    name=st.one_of(st.just(""), TEXT),
)
