"""Bulk loader for the benchmarks: a large, synthetic, internally consistent data set, by PostgreSQL COPY.

The schema comes from the real migrations (``coordinator.migrate.upgrade``); the rows go in with COPY, one
transaction, foreign keys and constraints checked by the database as usual. Idempotent: the schema named in
the URL's ``search_path`` is dropped and made again on every run.

What it makes (``--patients N``, ``--plans M`` with N <= M <= 2N):
- Region Hovedstaden, 3 psychiatric centres with 4 wards each, all 98 municipalities, a few hundred GP
  clinics (every municipality has at least one; København, the largest, has more patients and clinics);
- one benchmark user per sector (a discharge nurse at the first ward, a case worker in København, a GP at
  the first København clinic), without a password: the benchmark logs them in through the session cookie;
- N patients with unique CPR numbers that have valid birth dates and fail the modulus-11 check (so they
  cannot belong to anyone), each with a GP and one open pathway (stay) at a ward;
- M plans: every patient has an open plan (draft, proposed, agreed, active or under revision), and the first
  M - N patients also an earlier, ended plan of the same stay; each plan has its version 1 and its parties
  (ward, municipality, GP, and the patient for discharge agreements);
- patients with an active plan (or under revision, or half the agreed ones) have gone home, the others are
  still on the ward: about 150 current stays per ward on a large data set (the worklists' size), the
  shares of ``OPEN_STATUSES`` on a small one.

Only PostgreSQL: COPY is what makes 100,000 patients and 200,000 plans take seconds rather than minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from coordinator import migrate
from coordinator.demo.synthetic import FAMILY, GIVEN
from pathways.agreements import EndReason
from pathways.geography import MUNICIPALITIES, Region
from pathways.identifiers import LPR3_SYSTEMS
from pathways.organisations import OrganisationKind, Sector
from pathways.people import Role
from pathways.plans import (
    ParticipantRole,
    PatientParticipation,
    PlanKind,
    PlanStatus,
    ResponseStatus,
)
from pathways.stays import PathwayStatus

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_PATIENTS = 100_000
DEFAULT_PLANS = 200_000
DEFAULT_SEED = 20261126
CENTRES = (
    "Psykiatrisk Center København",
    "Psykiatrisk Center Amager",
    "Psykiatrisk Center Nordsjælland",
)
WARDS_PER_CENTRE = 4
GP_CLINICS = 300
BENCH_MUNICIPALITY = "101"  # København: the largest municipality, the interesting page-of-50 case
# København has about a tenth of the country's population: weight it so.
MUNICIPALITY_WEIGHT = {BENCH_MUNICIPALITY: 10}
# The open plan of each patient: (status, share). Active plans are the bulk of what parties look at.
# Draft, proposed and half the agreed plans belong to a patient still on the ward (a current stay): on a
# large data set their shares shrink (``open_status_shares``) so that each ward has about
# CURRENT_STAYS_PER_WARD current stays, as a real ward's worklist has, not thousands.
OPEN_STATUSES = (
    (PlanStatus.DRAFT, 15),
    (PlanStatus.PROPOSED, 15),
    (PlanStatus.AGREED, 15),
    (PlanStatus.ACTIVE, 45),
    (PlanStatus.UNDER_REVISION, 10),
)
CURRENT_STAYS_PER_WARD = 150
# optimistic-lock counter after the usual path to each status (create 1, propose 2, agree 3, ...)
LOCK_VERSION = {  # StrEnum keys: plain status strings find them too
    PlanStatus.DRAFT: 1,
    PlanStatus.PROPOSED: 2,
    PlanStatus.AGREED: 3,
    PlanStatus.ACTIVE: 4,
    PlanStatus.UNDER_REVISION: 5,
    PlanStatus.ENDED: 4,
}
ENDED_REASONS = (EndReason.SUPERSEDED, EndReason.REVIEW_OUTCOME, EndReason.NO_LONGER_NEEDED)
BIRTH_FIRST, BIRTH_LAST = date(1930, 1, 1), date(1999, 12, 31)
_CPR_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
_SCHEMA = re.compile(r"-c\s*search_path=([a-z_][a-z0-9_]*)\b")

TABLES = (
    "organisations",
    "users",
    "patients",
    "pathways",
    "plans",
    "plan_versions",
    "plan_participants",
)


@dataclass(frozen=True, slots=True)
class BenchUser:
    id: int
    username: str
    role: Role
    organisation_id: int


@dataclass(frozen=True, slots=True)
class LoadReport:
    schema: str
    counts: dict[str, int]
    seconds: float
    phases: dict[str, float]
    users: dict[Sector, BenchUser]


# ---------------------------------------------------------------------------- URLs and schema
def schema_of(url: str) -> str:
    """The schema named by ``options=-csearch_path=<schema>`` in the URL (the one the loader owns)."""
    options = str(make_url(url).query.get("options", ""))
    match = _SCHEMA.search(options)
    if match is None or match.group(1) == "public":
        raise ValueError(
            "the URL must name a dedicated schema with ?options=-csearch_path%3D<schema> "
            "(the loader drops and recreates it; never public)"
        )
    return match.group(1)


def with_schema(base_url: str, schema: str) -> str:
    """``base_url`` with its search_path set to ``schema`` (as tests.conftest.fresh_database_url does)."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq URI for psycopg (drops the ``+psycopg`` driver suffix)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the benchmarks need PostgreSQL (COPY), not {parsed.get_backend_name()}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


# ---------------------------------------------------------------------------- synthetic values
def synthetic_cprs(count: int) -> list[str]:
    """``count`` unique CPR numbers with real birth dates (1930-1999) that all fail modulus 11.

    Serials start with 0-3 (born in the 1900s); each birth date gets blocks of 100 serials, and each block
    gives one number: the first of its serials whose checksum is not divisible by 11.
    """
    days = (BIRTH_LAST - BIRTH_FIRST).days + 1
    if count > days * 40:
        raise ValueError(f"at most {days * 40} synthetic CPR numbers")
    numbers: list[str] = []
    for i in range(count):
        prefix = (BIRTH_FIRST + timedelta(days=i % days)).strftime("%d%m%y")
        block = (i // days) * 100
        for serial in range(block, block + 100):
            cpr = f"{prefix}{serial:04d}"
            if sum(int(d) * w for d, w in zip(cpr, _CPR_WEIGHTS, strict=True)) % 11:
                numbers.append(cpr)
                break
    return numbers


def _sor(n: int) -> str:
    return f"9{n:014d}"  # 15 digits in a range no real SOR code uses (as the demo data)


def _json(document: dict[str, Any]) -> Jsonb:
    """A jsonb value serialised now, once, instead of on every row that carries it."""
    encoded = json.dumps(document, ensure_ascii=False).encode()
    return Jsonb(encoded, dumps=lambda _: encoded)


def _section_templates() -> tuple[Jsonb, list[Jsonb]]:
    """A draft's content and a few complete contents, serialised once: 200,000 versions share them."""
    draft = {"treatment": {"text": "Ambulant opfølgning i distriktspsykiatrien."}}
    complete = []
    for n, (medicine, support) in enumerate(
        [
            ("Quetiapin 300 mg til natten", ["§85 bostøtte 4 timer om ugen"]),
            ("Sertralin 100 mg dagligt", ["§99 støtte-kontaktperson"]),
            ("Aripiprazol 15 mg dagligt", ["§85 bostøtte", "§104 aktivitetstilbud"]),
            ("Lithium efter plasmakoncentration", ["§107 midlertidigt botilbud"]),
        ]
    ):
        complete.append(
            _json(
                {
                    "treatment": {
                        "text": "Ambulant behandling i distriktspsykiatrien, samtale hver 14. dag."
                    },
                    "medication": {"text": f"{medicine}; egen læge fornyer recepter."},
                    "social_support": {
                        "measures": support,
                        "provider": "Socialpsykiatrien",
                        "text": "Hjælp til struktur i hverdagen og indkøb.",
                    },
                    "housing": {
                        "text": "Bor i egen lejlighed; boligsocial medarbejder er orienteret."
                    },
                    "crisis_plan": {
                        "warning_signs": ["søvnløshed", "isolation", "stemmer"],
                        "what_helps": ["gåture", "kontakt til søster"],
                        "call_day": "Distriktspsykiatrien 38 64 00 00",
                        "call_night": "Psykiatrisk akutmodtagelse 38 64 70 00",
                    },
                    "if_treatment_stops": {"text": "Kontaktpersonen ringer inden for to hverdage."},
                    "first_follow_up": {
                        "date": f"2026-12-0{n + 1}",
                        "who": "Kontaktsygeplejerske",
                        "place": "Distriktspsykiatrien",
                    },
                    "citizen_goals": {"text": "Komme i gang med uddannelse igen."},
                }
            )
        )
    return _json(draft), complete


def open_status_shares(patients: int, wards: int) -> dict[str, float]:
    """The share of each open status (``OPEN_STATUSES``), with those of a current stay (draft, proposed,
    and agreed, half of which are still on the ward) scaled down so that the wards hold about
    ``CURRENT_STAYS_PER_WARD`` current stays each; small data sets keep ``OPEN_STATUSES`` as it is."""
    shares = {status.value: float(share) for status, share in OPEN_STATUSES}
    before = (PlanStatus.DRAFT.value, PlanStatus.PROPOSED.value, PlanStatus.AGREED.value)
    after = (PlanStatus.ACTIVE.value, PlanStatus.UNDER_REVISION.value)
    total = sum(shares.values())
    # a current stay: every draft and proposed plan, half the agreed ones
    current = (shares[before[0]] + shares[before[1]] + shares[before[2]] / 2) / total
    wanted = CURRENT_STAYS_PER_WARD * wards / patients
    if wanted >= current:
        return shares
    scale = wanted / current
    moved = sum(shares[s] for s in before) * (1 - scale)
    post = sum(shares[s] for s in after)
    for status in before:
        shares[status] *= scale
    for status in after:
        shares[status] += moved * shares[status] / post
    return shares


# ---------------------------------------------------------------------------- the data set
class _DataSet:
    """Builds the rows in memory (plain tuples in COPY column order), then writes them table by table."""

    def __init__(self, *, patients: int, plans: int, seed: int, now: datetime) -> None:
        if patients < 1 or not patients <= plans <= 2 * patients:
            raise ValueError("need at least one patient and between 1 and 2 plans per patient")
        self.rng = random.Random(seed)
        self.now = now
        self.org_created = now - timedelta(days=2000)
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
        self.users: dict[Sector, BenchUser] = {}
        self._organisations()
        self._users()
        self._patients_pathways_plans(patients, plans)

    # -- organisations and users
    def _org(self, name: str, kind: OrganisationKind, **values: Any) -> int:
        rows = self.rows["organisations"]
        org_id = len(rows) + 1
        rows.append(
            (
                org_id,
                name,
                kind.value,
                kind.sector.value,
                values.get("parent_id"),
                values.get("sor_code"),
                values.get("kommunekode"),
                values.get("ydernummer"),
                values.get("region_code"),
                values.get("email", ""),
                True,
                self.org_created,
                self.org_created,
            )
        )
        return org_id

    def _organisations(self) -> None:
        region = self._org(
            "Region Hovedstaden", OrganisationKind.REGION, region_code=Region.HOVEDSTADEN.value
        )
        self.wards: list[int] = []
        for c, centre_name in enumerate(CENTRES, start=1):
            centre = self._org(
                centre_name, OrganisationKind.PSYCHIATRIC_CENTRE, parent_id=region, sor_code=_sor(c)
            )
            for w in range(1, WARDS_PER_CENTRE + 1):
                self.wards.append(
                    self._org(
                        f"Afsnit {c}{w:02d}, {centre_name.removeprefix('Psykiatrisk Center ')}",
                        OrganisationKind.WARD,
                        parent_id=centre,
                        sor_code=_sor(c * 100 + w),
                        email=f"afsnit{c}{w:02d}@bench.invalid",
                    )
                )
        self.municipality_id: dict[str, int] = {}
        for code, municipality in MUNICIPALITIES.items():
            self.municipality_id[code] = self._org(
                f"{municipality.name} Kommune",
                OrganisationKind.MUNICIPALITY,
                kommunekode=code,
                region_code=municipality.region.value,
            )
        codes = list(MUNICIPALITIES)
        self.codes = codes
        self.weights = [MUNICIPALITY_WEIGHT.get(code, 1) for code in codes]
        # Every municipality has a clinic; the rest follow the population.
        homes = codes + self.rng.choices(codes, self.weights, k=GP_CLINICS - len(codes))
        self.clinics_of: dict[str, list[int]] = {code: [] for code in codes}
        for n, code in enumerate(homes, start=1):
            clinic = self._org(
                f"Lægehuset {MUNICIPALITIES[code].name} {n}",
                OrganisationKind.GP_CLINIC,
                ydernummer=f"{n:06d}",
            )
            self.clinics_of[code].append(clinic)

    def _users(self) -> None:
        for sector, role, org_id, name in (
            (Sector.REGION, Role.DISCHARGE_NURSE, self.wards[0], "Bente Benchmark"),
            (
                Sector.MUNICIPALITY,
                Role.CASE_WORKER,
                self.municipality_id[BENCH_MUNICIPALITY],
                "Kim Benchmark",
            ),
            (
                Sector.GENERAL_PRACTICE,
                Role.GP,
                self.clinics_of[BENCH_MUNICIPALITY][0],
                "Gitte Benchmark",
            ),
        ):
            user = BenchUser(len(self.users) + 1, f"bench.{sector.value}", role, org_id)
            self.users[sector] = user
            self.rows["users"].append(
                (
                    user.id,
                    org_id,
                    name,
                    role.value,
                    "",
                    "",
                    f"{user.username}@bench.invalid",
                    user.username,
                    None,  # no password: the benchmark logs in through the session cookie
                    False,
                    True,
                    self.org_created,
                    self.org_created,
                )
            )

    # -- patients, their stay and their plans
    def _patients_pathways_plans(self, patients: int, plans: int) -> None:
        """The hot loop (100,000 turns): plain strings and ``random()`` arithmetic, no enum look-ups."""
        rng, now = self.rng, self.now
        rand = rng.random
        days = [timedelta(days=n) for n in range(721)]
        hours = [timedelta(hours=n) for n in range(41)]
        nurse = self.users[Sector.REGION].id
        draft_sections, complete_sections = _section_templates()
        homes = rng.choices(self.codes, self.weights, k=patients)
        statuses = [s.value for s, _ in OPEN_STATUSES]
        shares = open_status_shares(patients, len(self.wards))
        open_statuses = rng.choices(statuses, [shares[s] for s in statuses], k=patients)
        reasons = [r.value for r in ENDED_REASONS]
        cprs = synthetic_cprs(patients)
        with_ended = plans - patients
        patient_rows = self.rows["patients"]
        wards, clinics_of, municipality_id = self.wards, self.clinics_of, self.municipality_id
        n_wards, n_given, n_family = len(wards), len(GIVEN), len(FAMILY)
        plan_id = 0
        for i in range(patients):
            patient_id = i + 1
            code = homes[i]
            clinics = clinics_of[code]
            gp = clinics[int(rand() * len(clinics))]
            ward = wards[int(rand() * n_wards)]
            given, family = GIVEN[int(rand() * n_given)], FAMILY[int(rand() * n_family)]
            registered = now - timedelta(days=400 + int(rand() * 2600))
            patient_rows.append(
                (
                    patient_id,
                    cprs[i],
                    None,
                    given,
                    family,
                    code,
                    gp,
                    rand() < 0.01,  # name and address protection
                    registered,
                    registered,
                )
            )
            status = open_statuses[i]
            admitted = now - days[45 + int(rand() * 676)] - hours[int(rand() * 24)]
            # Everything below stays within 41 days of the admission: all of it lies in the past.
            t = admitted + days[1 + int(rand() * 3)]
            parties = (ward, municipality_id[code], gp)
            name = f"{given} {family}"
            if i < with_ended:
                plan_id += 1
                agreed = t + days[1 + int(rand() * 5)]
                ended = agreed + days[1 + int(rand() * 20)]
                self._plan(
                    plan_id,
                    patient_id,
                    status=_ENDED,
                    kind=_COORDINATION,
                    created=t,
                    agreed=agreed,
                    activated=None,
                    ended=ended,
                    ended_reason=reasons[int(rand() * len(reasons))],
                    sections=complete_sections[int(rand() * len(complete_sections))],
                    parties=parties,
                    patient_name=name,
                    creator=nurse,
                )
                t = ended + days[int(rand() * 3)]
            plan_id += 1
            created = t
            agreed = activated = discharged = None
            if status in _AGREED_ONCE:
                agreed = created + days[1 + int(rand() * 7)]
                # Active plans (and half the agreed ones) belong to a patient who has gone home.
                if status != _AGREED or rand() < 0.5:
                    discharged = agreed + days[int(rand() * 4)]
                    if status != _AGREED:  # activated on discharge
                        activated = discharged + hours[1 + int(rand() * 20)]
            self._plan(
                plan_id,
                patient_id,
                status=status,
                kind=_AGREEMENT if rand() < 0.7 else _COORDINATION,
                created=created,
                agreed=agreed,
                activated=activated,
                ended=None,
                ended_reason="",
                sections=draft_sections
                if status == _DRAFT
                else complete_sections[int(rand() * len(complete_sections))],
                parties=parties,
                patient_name=name,
                creator=nurse,
            )
            self._pathway(patient_id, ward, admitted, discharged=discharged, activated=activated)

    def _pathway(
        self,
        pathway_id: int,
        ward: int,
        admitted: datetime,
        *,
        discharged: datetime | None,
        activated: datetime | None,
    ) -> None:
        """The patient's stay (pathway i is patient i's): open, so every party has a current relation."""
        rand = self.rng.random
        status = _ON_LEAVE if rand() < 0.1 else _ADMITTED
        if discharged is not None:
            status = _DISCHARGED
        self.rows["pathways"].append(
            (
                pathway_id,
                pathway_id,
                ward,
                status,
                admitted,
                None if discharged else (self.now + timedelta(days=3 + int(rand() * 28))).date(),
                discharged,
                None,
                LPR3_SYSTEMS[0],
                f"bench-{pathway_id:09d}",
                None,
                rand() < 0.8,
                rand() < 0.2,
                admitted + timedelta(hours=2 + int(rand() * 38)),
                self.users[Sector.REGION].id,  # the nurse assessed the §13a requirement
                2 if discharged else 1,
                admitted,
                activated or discharged or admitted,
            )
        )

    def _plan(
        self,
        plan_id: int,
        patient_id: int,
        *,
        status: str,
        kind: str,
        created: datetime,
        agreed: datetime | None,
        activated: datetime | None,
        ended: datetime | None,
        ended_reason: str,
        sections: Jsonb,
        parties: tuple[int, int, int],
        patient_name: str,
        creator: int,
    ) -> None:
        refused = kind == _COORDINATION
        updated = ended or activated or agreed or created
        if status == _UNDER_REVISION:
            updated += _ONE_DAY
        review_on = (created + _REVIEW_AFTER).date() if agreed else None
        valid_from = activated or (agreed if ended else None)
        self.rows["plans"].append(
            (
                plan_id,
                kind,
                status,
                patient_id,
                patient_id,  # pathway i belongs to patient i
                parties[0],
                1,
                valid_from.date() if valid_from else None,
                ended.date() if ended else None,
                review_on,
                _REFUSED if refused else _PARTICIPATES,
                created.date() if refused else None,
                ended_reason,
                creator,
                LOCK_VERSION[status],
                created,
                updated,
                agreed,
                activated,
                ended,
            )
        )
        self.rows["plan_versions"].append(
            (plan_id, plan_id, 1, sections, review_on, "draft created", creator, created)
        )
        rows = self.rows["plan_participants"]
        accepted = (_ACCEPTED, "", 1, agreed or created + _ONE_HOUR, None)
        answered = status in _ANSWERED
        if not refused:  # a discharge agreement (§13a) is made with the patient
            answer = accepted if answered else _UNANSWERED
            rows.append((len(rows) + 1, plan_id, _PATIENT, None, patient_name, "", True, *answer))
        for role, org_id in zip(_PARTY_ROLES, parties, strict=True):
            # A proposed plan: the ward has accepted its own proposal, the others have yet to answer.
            answered_here = answered or (status == _PROPOSED and role == _WARD)
            answer = accepted if answered_here else _UNANSWERED
            rows.append((len(rows) + 1, plan_id, role, org_id, "", "", True, *answer))


# Enum values as plain strings for the hot loop.
_DRAFT, _PROPOSED, _AGREED, _ACTIVE, _UNDER_REVISION, _ENDED = (
    s.value
    for s in (
        PlanStatus.DRAFT,
        PlanStatus.PROPOSED,
        PlanStatus.AGREED,
        PlanStatus.ACTIVE,
        PlanStatus.UNDER_REVISION,
        PlanStatus.ENDED,
    )
)
_AGREED_ONCE = frozenset({_AGREED, _ACTIVE, _UNDER_REVISION})
_ANSWERED = frozenset({_AGREED, _ACTIVE, _ENDED})
_AGREEMENT, _COORDINATION = PlanKind.DISCHARGE_AGREEMENT.value, PlanKind.COORDINATION_PLAN.value
_REFUSED, _PARTICIPATES = (
    PatientParticipation.REFUSED.value,
    PatientParticipation.PARTICIPATES.value,
)
_PATIENT, _WARD = ParticipantRole.PATIENT.value, ParticipantRole.WARD.value
_PARTY_ROLES = (_WARD, ParticipantRole.MUNICIPALITY.value, ParticipantRole.GP.value)
_ACCEPTED = ResponseStatus.ACCEPTED.value
_UNANSWERED = (ResponseStatus.PENDING.value, "", None, None, None)
_ADMITTED, _ON_LEAVE, _DISCHARGED = (
    PathwayStatus.ADMITTED.value,
    PathwayStatus.ON_LEAVE.value,
    PathwayStatus.DISCHARGED.value,
)
_ONE_DAY, _ONE_HOUR, _REVIEW_AFTER = timedelta(days=1), timedelta(hours=1), timedelta(days=90)


COLUMNS: dict[str, Sequence[str]] = {
    "organisations": (
        "id",
        "name",
        "kind",
        "sector",
        "parent_id",
        "sor_code",
        "kommunekode",
        "ydernummer",
        "region_code",
        "email",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "users": (
        "id",
        "organisation_id",
        "name",
        "role",
        "title",
        "phone",
        "email",
        "username",
        "password_hash",
        "must_change_password",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "patients": (
        "id",
        "cpr",
        "replacement_cpr",
        "given_name",
        "family_name",
        "kommunekode",
        "gp_organisation_id",
        "is_protected",
        "created_at",
        "updated_at",
    ),
    "pathways": (
        "id",
        "patient_id",
        "ward_id",
        "status",
        "admitted_at",
        "planned_discharge_on",
        "discharged_at",
        "closed_at",
        "episode_system",
        "episode_value",
        "readmission_of_id",
        "receives_sel_support",
        "presumed_not_to_seek_treatment",
        "requirement_assessed_at",
        "requirement_assessed_by_id",
        "version",
        "created_at",
        "updated_at",
    ),
    "plans": (
        "id",
        "kind",
        "status",
        "patient_id",
        "pathway_id",
        "responsible_organisation_id",
        "current_version_number",
        "valid_from",
        "valid_to",
        "review_on",
        "patient_participation",
        "patient_refused_on",
        "ended_reason",
        "created_by_id",
        "version",
        "created_at",
        "updated_at",
        "agreed_at",
        "activated_at",
        "ended_at",
    ),
    "plan_versions": (
        "id",
        "plan_id",
        "number",
        "sections",
        "review_on",
        "change_note",
        "created_by_id",
        "created_at",
    ),
    "plan_participants": (
        "id",
        "plan_id",
        "role",
        "organisation_id",
        "person_name",
        "relation",
        "is_required",
        "response",
        "response_note",
        "responded_version_number",
        "responded_at",
        "responded_by_id",
    ),
}


def _copy(
    cursor: psycopg.Cursor[Any],
    table: str,
    rows: Iterable[tuple[Any, ...]],
    columns: Sequence[str] | None = None,
) -> int:
    """Binary COPY: no text to format here nor to parse there (five times faster than text COPY).

    The column types come from the catalogue, so a column the migrations renamed fails loudly here.
    ``columns``: the COPY column order (default ``COLUMNS[table]``). Answers the number of rows written.
    """
    cursor.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        [table],
    )
    types = dict(cursor.fetchall())
    columns = columns or COLUMNS[table]
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY, FREEZE)"
    written = 0
    with cursor.copy(statement) as copy:
        # varchar's binary form is text's; psycopg dumps str as text
        copy.set_types(["text" if types[c] == "varchar" else types[c] for c in columns])
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def recreate_schema(url: str) -> str:
    """Drop the URL's schema with everything in it and make it again, empty; returns its name."""
    schema = schema_of(url)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def _set_aside_constraints(
    cursor: psycopg.Cursor[Any], tables: Sequence[str] = TABLES
) -> list[str]:
    """Drop the loaded tables' foreign keys, unique constraints and secondary indexes; return the DDL
    that makes them again. PostgreSQL's "Populating a Database" advice: checking a foreign key row by row
    and growing an index row by row is what makes a bulk load slow; building and validating afterwards,
    once per constraint, checks the very same rules many times faster. Primary keys stay.
    """
    cursor.execute(
        """
        SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
          AND c.contype IN ('f', 'u')
        ORDER BY c.contype, t.relname, c.conname
        """,
        [list(tables)],
    )
    # foreign keys first ('f' < 'u'): they may depend on a unique one
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid
                          AND c.conrelid = t.oid AND c.contype IN ('p', 'u', 'x'))
        ORDER BY i.relname
        """,
        [list(tables)],
    )
    indexes = cursor.fetchall()
    for table, name, _kind, _definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    restore = [definition for _name, definition in indexes]
    restore += [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, _kind, definition in reversed(constraints)  # unique ones first
    ]
    return restore


def load(
    url: str,
    *,
    patients: int = DEFAULT_PATIENTS,
    plans: int = DEFAULT_PLANS,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> LoadReport:
    """(Re)build the schema with the migrations and fill it. ``url``: SQLAlchemy URL naming the schema."""
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        phases[phase] = time.perf_counter() - clock
        clock = time.perf_counter()

    schema = recreate_schema(url)
    migrate.upgrade(url)
    lap("schema")
    data = _DataSet(
        patients=patients,
        plans=plans,
        seed=seed,
        now=(now or datetime.now(UTC)).replace(microsecond=0),
    )
    lap("generate")
    with psycopg.connect(libpq_url(url)) as conn:
        # One transaction: a failed load leaves no half-filled tables, and no table without its constraints.
        with conn.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            restore = _set_aside_constraints(cursor)
            # Emptied in this transaction, the tables take COPY FREEZE: rows arrive frozen and all-visible,
            # so the first reads (the benchmark's) don't write hint bits and autovacuum finds nothing to do.
            # CASCADE: the (empty) tables that refer to these ones, e.g. reminders.
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
            for table in TABLES:
                _copy(cursor, table, data.rows[table])
                # Explicit ids went in: move the sequences past them for rows the app inserts later.
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            lap("copy")
            for statement in restore:
                cursor.execute(statement)
        conn.commit()
        lap("constraints")
        conn.autocommit = True
        # Fresh statistics, or the planner guesses on 200,000 rows as if the tables were empty.
        conn.execute(f"ANALYZE {', '.join(TABLES)}")
        lap("analyze")
    return LoadReport(
        schema=schema,
        counts={table: len(rows) for table, rows in data.rows.items()},
        seconds=sum(phases.values()),
        phases=phases,
        users=data.users,
    )


def url_argument(parser: argparse.ArgumentParser) -> None:
    """``--url``: the PostgreSQL server of every benchmark (BENCH_DATABASE_URL, else this machine's)."""
    parser.add_argument(
        "--url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL,
        help="PostgreSQL server (SQLAlchemy URL); BENCH_DATABASE_URL by default",
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    url_argument(parser)
    parser.add_argument("--schema", default="carepath_bench")
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
    parser.add_argument("--plans", type=int, default=DEFAULT_PLANS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    report = load(
        with_schema(args.url, args.schema), patients=args.patients, plans=args.plans, seed=args.seed
    )
    counts = ", ".join(f"{n} {table}" for table, n in report.counts.items())
    phases = ", ".join(f"{phase} {seconds:.1f}" for phase, seconds in report.phases.items())
    print(f"loaded schema {report.schema} in {report.seconds:.1f} s ({phases}): {counts}")


if __name__ == "__main__":
    main()
