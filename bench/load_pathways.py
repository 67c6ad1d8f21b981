"""Bulk loader for the gap-scan benchmark (issue 8): 1,000,000 pathways with their history, by COPY.

Same machinery as ``bench.load`` (schema from the real migrations, binary COPY FREEZE in one transaction,
constraints and indexes set aside and rebuilt once, ANALYZE), into a schema of its own (by default
``carepath_bench_pathways``), so the REST benchmark's data set stays as it is.

What it makes (``--pathways N``; the numbers are for the default 1,000,000):
- the organisations of ``bench.load`` (Region Hovedstaden, 3 centres with 4 wards each, 98 municipalities,
  300 GP clinics) and its 3 benchmark users, plus the staff the reminders name: a chief physician per centre,
  5 nurses per ward, case workers per municipality, a GP or two per clinic; some of each inactive;
- about 400,000 patients (synthetic CPR numbers that fail modulus 11) with 1 to 15 stays each (geometric,
  2.5 on average); 22 % of the stays after a patient's first are readmissions within 30 days
  (``readmission_of_id``, about one stay in eight); pathway ids follow the admission time, as they would
  in production;
- most stays are history: closed (discharged long ago) or, rarely, cancelled; ``OPEN_SHARE`` (3.5 %, about
  35,000) are open: admitted (40 %), on leave (6 %) or discharged recently (54 %, within 35 days);
- the chief physician's §13a assessment on every historical stay; open ones may still lack it (half of the
  stays admitted in the last 3 days, 6 % of the rest, some half-assessed);
- plans: an ended one for each required historical stay of the last 5 years; open stays get none, a draft,
  a proposal with parties yet to answer, an agreed, active or under-revision plan, by status and assessment;
  the plan of the stay before an open readmission is sometimes still active (readmission notice); some
  agreed plans do not need the GP's acceptance, and their GP ladder (shared / delivered / read) comes from
  pathway facts;
- pathway events: ``admitted`` and ``discharged`` for every stay (what MedCom sends), and on open stays
  planned discharge dates (some re-planned, some annulled), booked and held follow-ups;
- pathway facts: municipality notified (some before the date was known), network meetings requested and
  held, plans shared / delivered / read at the GP;
- leave periods: the open leave of every stay on leave, past leaves of some others;
- fixed contact persons per patient and sector for the patients with an open stay: current with an active
  person, a team inbox only, an inactive person, ended, starting later, or missing; ended ones in the
  history of others.

So every gap rule of ``pathways.reminders`` fires somewhere. ``now`` (the loader's instant) is kept as the
schema's comment (``loaded_now``), so a benchmark on a reused data set evaluates at the same instant.

    python -m bench.load_pathways                        # 1,000,000 pathways, about a minute
    python -m bench.load_pathways --pathways 20000       # a small one
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench import load as loader
from coordinator import migrate
from coordinator.demo.synthetic import FAMILY, GIVEN
from pathways.clock import to_copenhagen
from pathways.identifiers import LPR3_SYSTEMS
from pathways.people import Role

SCHEMA = "carepath_bench_pathways"
DEFAULT_PATHWAYS = 1_000_000
DEFAULT_SEED = 20261127
OPEN_SHARE = 0.035  # share of all pathways that are open (admitted, on leave, discharged recently)
OPEN_MIX = (("admitted", 0.40), ("on_leave", 0.06), ("discharged", 0.54))
MEAN_STAYS = 2.5  # stays per patient (geometric, 1 to MAX_STAYS)
MAX_STAYS = 15
READMISSION_SHARE = 0.22  # of earlier stays: the next admission came within 30 days
CANCELLED_SHARE = 0.003
PLAN_HISTORY_DAYS = (
    5 * 365
)  # required historical stays this recent have their (ended) plan in carepath
NO_GP_EVERY = 20  # one patient in this many has no GP registered (rule gp_unknown)
RECENT_OPEN_DAYS = 35  # open discharged stays were discharged this recently at most
TABLES = (
    "organisations",
    "users",
    "patients",
    "pathways",
    "plans",
    "plan_versions",
    "plan_participants",
    "leave_periods",
    "pathway_events",
    "pathway_facts",
    "contact_assignments",
    "network_meetings",
    "meeting_actions",
)
COLUMNS: dict[str, Sequence[str]] = {
    **loader.COLUMNS,
    "leave_periods": ("id", "pathway_id", "started_at", "ended_at"),
    "pathway_events": (
        "id",
        "pathway_id",
        "type",
        "occurred_at",
        "recorded_at",
        "source",
        "idempotency_key",
        "corrects_event_id",
        "is_annulled",
        "recorded_by_id",
        "payload",
    ),
    "pathway_facts": (
        "id",
        "pathway_id",
        "type",
        "occurred_at",
        "recorded_at",
        "source",
        "idempotency_key",
        "plan_id",
        "organisation_id",
        "recorded_by_id",
        "payload",
    ),
    "contact_assignments": (
        "id",
        "patient_id",
        "sector",
        "organisation_id",
        "person_id",
        "backup_person_id",
        "team_inbox",
        "valid_from",
        "valid_to",
        "ended_reason",
        "created_by_id",
        "created_at",
    ),
    "network_meetings": (
        "id",
        "patient_id",
        "pathway_id",
        "status",
        "reason",
        "requested_at",
        "requested_by_id",
        "requesting_organisation_id",
        "scheduled_for",
        "place",
        "held_on",
        "participants",
        "citizen_took_part",
        "citizen_words",
        "summary",
        "cancelled_reason",
        "version",
        "created_at",
        "updated_at",
    ),
    "meeting_actions": (
        "id",
        "meeting_id",
        "patient_id",
        "pathway_id",
        "description",
        "owner_organisation_id",
        "due_on",
        "status",
        "closed_at",
        "closed_by_id",
        "created_by_id",
        "version",
        "created_at",
        "updated_at",
    ),
}
MEETING_SHARE = 0.2  # open stays with a network meeting (their own random stream: see _meetings)
_PARTICIPANTS = Jsonb(["Borgeren", "Udskrivningssygeplejerske", "Sagsbehandler"])

_OPEN = frozenset({"admitted", "on_leave", "discharged"})
_BEFORE_DISCHARGE = frozenset({"admitted", "on_leave"})
_AGREED_STATES = frozenset({"agreed", "active", "under_revision"})
_EMPTY = loader._json({})
_MINUTE, _HOUR, _DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# Stay entries (phase 1), plain lists for speed: indexes of their fields.
_ADM, _PAT, _STATUS, _DIS, _CLOSED, _PREV, _ID, _LIVE_PLAN = range(8)


# The plan of an open stay: (before discharge?, §13a level) -> (status or None, cumulative share).
_OPEN_PLAN_STATUSES: dict[tuple[bool, str], tuple[tuple[str | None, float], ...]] = {
    (True, "required"): (
        (None, 0.15),
        ("draft", 0.40),
        ("proposed", 0.65),
        ("agreed", 0.95),
        ("under_revision", 1.0),
    ),
    (True, "not_assessed"): ((None, 0.6), ("draft", 0.9), ("proposed", 1.0)),
    (True, "not_required"): (("draft", 0.1), (None, 1.0)),
    (False, "required"): (
        ("agreed", 0.20),
        ("active", 0.75),
        ("under_revision", 0.80),
        (None, 0.90),
        ("draft", 0.95),
        ("proposed", 1.0),
    ),
    (False, "not_assessed"): ((None, 0.7), ("active", 1.0)),
    (False, "not_required"): (("draft", 0.1), (None, 1.0)),
}


# The fixed contact person of one sector of a patient with an open stay (cumulative shares; the rest: none).
_CONTACT_KINDS: tuple[tuple[str | None, float], ...] = (
    ("current", 0.75),
    ("team_inbox", 0.80),
    ("inactive", 0.83),
    ("ended", 0.90),
    ("later", 0.92),
    (None, 1.0),
)


def _pick(r: float, table: tuple[tuple[str | None, float], ...]) -> str | None:
    """The entry of a cumulative share table that ``r`` (0 <= r < 1) falls into."""
    for value, upto in table:
        if r < upto:
            return value
    return table[-1][0]


@dataclass(frozen=True, slots=True)
class PathwayLoadReport:
    schema: str
    now: datetime
    counts: dict[str, int]
    statuses: dict[str, int]
    seconds: float
    phases: dict[str, float]


class _PathwayDataSet(loader._DataSet):
    """The organisations and users of ``bench.load``, then staff, patients and their stays.

    Rows are plain tuples in COPY column order. The two events every stay has (admitted, discharged) are not
    kept: ``events()`` derives them from the pathway rows while COPY reads them."""

    def __init__(self, *, pathways: int, seed: int, now: datetime) -> None:
        if pathways < 100:
            raise ValueError("make at least 100 pathways")
        self.rng = random.Random(seed)
        self.meeting_rng = random.Random(seed + 1)
        self.now = now
        self.today = to_copenhagen(now).date()
        self.org_created = now - timedelta(days=4000)
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
        self.users = {}
        self._organisations()
        self._users()
        self._staff()
        draft, complete = loader._section_templates()
        self.draft_sections, self.complete_sections = draft, complete
        stays, patients = self._stays(pathways)
        self._patients(patients)
        self._pathways(stays)
        self._contacts(patients)

    # ------------------------------------------------------------------ people
    def _user(self, org_id: int, name: str, role: Role, *, active: bool = True) -> int:
        rows = self.rows["users"]
        user_id = len(rows) + 1
        rows.append(
            (
                user_id,
                org_id,
                name,
                role.value,
                "",
                "",
                f"user{user_id}@bench.invalid",
                None,  # no login: these people are named by contact assignments and reminders
                None,
                False,
                active,
                self.org_created,
                self.org_created,
            )
        )
        return user_id

    def _staff(self) -> None:
        """(active, inactive) people per organisation, and a chief physician per centre."""
        rand = self.rng.random
        orgs = self.rows["organisations"]
        parent = {row[0]: row[4] for row in orgs}
        self.chief_of_ward: dict[int, int] = {}
        chiefs: dict[int, int] = {}
        for ward in self.wards:
            centre = parent[ward]
            if centre not in chiefs:
                chiefs[centre] = self._user(centre, f"Overlæge {centre}", Role.CHIEF_PHYSICIAN)
            self.chief_of_ward[ward] = chiefs[centre]

        def people(
            org_id: int, role: Role, active: int, inactive: int
        ) -> tuple[list[int], list[int]]:
            on = [self._user(org_id, f"{role.value} {org_id}.{n}", role) for n in range(active)]
            off = [
                self._user(org_id, f"{role.value} {org_id}.x{n}", role, active=False)
                for n in range(inactive)
            ]
            return on, off

        self.staff: dict[int, tuple[list[int], list[int]]] = {}
        for ward in self.wards:
            self.staff[ward] = people(ward, Role.DISCHARGE_NURSE, 4, 1)
        for code, org_id in self.municipality_id.items():
            many = code == loader.BENCH_MUNICIPALITY
            self.staff[org_id] = people(org_id, Role.CASE_WORKER, 10 if many else 2, 1)
        for clinics in self.clinics_of.values():
            for clinic in clinics:
                self.staff[clinic] = people(clinic, Role.GP, 1, 1 if rand() < 0.3 else 0)

    # ------------------------------------------------------------------ phase 1: who stays when
    def _stays(self, total: int) -> tuple[list[list[Any]], list[list[Any]]]:
        """Stays per patient, made backwards from the latest; then every stay's id by admission time."""
        rand = self.rng.random
        log_q = math.log(1 - 1 / MEAN_STAYS)
        counts: list[int] = []
        made = 0
        while made < total:
            k = min(MAX_STAYS, 1 + int(math.log(1.0 - rand()) / log_q), total - made)
            counts.append(k)
            made += k
        p_open = OPEN_SHARE * total / len(counts)
        mix = [(status, share) for status, share in OPEN_MIX]
        stays: list[list[Any]] = []
        # patients: [stays (latest first)] -> filled by phase 2 with what contacts need
        patients: list[list[Any]] = []
        for i, k in enumerate(counts):
            patient_id = i + 1
            entries: list[list[Any]] = []
            for j in range(k):
                if j == 0:
                    entry = self._latest(patient_id, rand() < p_open, mix)
                else:
                    later = entries[-1]
                    entry = self._earlier(patient_id, later)
                entries.append(entry)
            stays.extend(entries)
            patients.append(entries)
        stays.sort(key=lambda e: e[_ADM])
        for n, entry in enumerate(stays, start=1):
            entry[_ID] = n
        return stays, patients

    def _latest(self, patient_id: int, is_open: bool, mix: list[tuple[str, float]]) -> list[Any]:
        rand, now = self.rng.random, self.now
        los = _DAY * (1 + min(200.0, -math.log(1.0 - rand()) * 18)) + _HOUR * int(rand() * 24)
        if is_open:
            r, status = rand(), mix[-1][0]
            for name, share in mix:
                if r < share:
                    status = name
                    break
                r -= share
            if status == "discharged":
                discharged = now - _DAY * (rand() * RECENT_OPEN_DAYS) - _MINUTE
                return [discharged - los, patient_id, status, discharged, None, None, 0, False]
            admitted = now - _DAY * min(150.0, -math.log(1.0 - rand()) * 14) - _MINUTE * 30
            return [admitted, patient_id, status, None, None, None, 0, False]
        if rand() < CANCELLED_SHARE:
            admitted = now - _DAY * (1 + rand() * 3000)
            return [admitted, patient_id, "cancelled", None, None, None, 0, False]
        discharged = now - _DAY * (RECENT_OPEN_DAYS + 5 + -math.log(1.0 - rand()) * 400)
        closed = min(now - _HOUR, discharged + _DAY * (1 + rand() * 30))
        return [discharged - los, patient_id, "closed", discharged, closed, None, 0, False]

    def _earlier(self, patient_id: int, later: list[Any]) -> list[Any]:
        rand = self.rng.random
        los = _DAY * (1 + min(200.0, -math.log(1.0 - rand()) * 18)) + _HOUR * int(rand() * 24)
        next_admitted = later[_ADM]
        if rand() < CANCELLED_SHARE:
            admitted = next_admitted - _DAY * (30 + rand() * 300)
            return [admitted, patient_id, "cancelled", None, None, None, 0, False]
        if rand() < READMISSION_SHARE:
            discharged = next_admitted - _HOUR * (2 + rand() * 28 * 24)
            entry = [
                discharged - los,
                patient_id,
                "closed",
                discharged,
                next_admitted,
                None,
                0,
                False,
            ]
            later[_PREV] = entry  # closed by the readmission, which points back at it
            # a plan in force when the patient came back: the readmission notice (rule 10)
            entry[_LIVE_PLAN] = later[_STATUS] in _BEFORE_DISCHARGE and rand() < 0.6
            return entry
        gap = 30 + -math.log(1.0 - rand()) * 350
        discharged = next_admitted - _DAY * gap
        closed = discharged + _DAY * min(gap * 0.8, 1 + rand() * 40)
        return [discharged - los, patient_id, "closed", discharged, closed, None, 0, False]

    # ------------------------------------------------------------------ patients
    def _patients(self, patients: list[list[Any]]) -> None:
        rand = self.rng.random
        count = len(patients)
        homes = self.rng.choices(self.codes, self.weights, k=count)
        cprs = loader.synthetic_cprs(count)
        self.home_code = homes
        self.gp_of: list[int | None] = []
        self.home_ward: list[int] = []
        self.names: list[str] = []
        rows = self.rows["patients"]
        wards, n_wards = self.wards, len(self.wards)
        for i in range(count):
            clinics = self.clinics_of[homes[i]]
            gp: int | None = clinics[int(rand() * len(clinics))]
            if i % NO_GP_EVERY == NO_GP_EVERY // 3:  # admitted by MedCom, GP not known yet
                gp = None
            given, family = GIVEN[int(rand() * len(GIVEN))], FAMILY[int(rand() * len(FAMILY))]
            self.gp_of.append(gp)
            self.home_ward.append(wards[int(rand() * n_wards)])
            self.names.append(f"{given} {family}")
            first = min(e[_ADM] for e in patients[i])
            rows.append(
                (i + 1, cprs[i], None, given, family, homes[i], gp, rand() < 0.01, first, first)
            )

    # ------------------------------------------------------------------ phase 2: every stay's rows
    def _pathways(self, stays: list[list[Any]]) -> None:
        """The hot loop (a million turns): plain strings and ``random()`` arithmetic."""
        rand, now = self.rng.random, self.now
        rows = self.rows["pathways"]
        self.extra_events: list[tuple[Any, ...]] = []
        self.open_stay: dict[
            int, tuple[int, int, date | None]
        ] = {}  # patient -> (pathway, ward, planned)
        wards, n_wards = self.wards, len(self.wards)
        plan_since = now - timedelta(days=PLAN_HISTORY_DAYS)
        for entry in stays:
            pathway_id, patient_id, status = entry[_ID], entry[_PAT], entry[_STATUS]
            admitted, discharged, closed = entry[_ADM], entry[_DIS], entry[_CLOSED]
            ward = self.home_ward[patient_id - 1] if rand() < 0.7 else wards[int(rand() * n_wards)]
            is_open = status in _OPEN
            # -- the chief physician's §13a assessment
            sel: bool | None
            presumed: bool | None
            unassessed = is_open and rand() < (0.5 if now - admitted < 3 * _DAY else 0.06)
            if entry[_LIVE_PLAN]:
                sel, presumed = True, False
            elif unassessed:
                sel, presumed = (None, None) if rand() < 0.85 else (False, None)
            else:
                sel = rand() < 0.4
                presumed = (not sel) and rand() < 0.3
            level = (
                "required"
                if sel or presumed
                else ("not_assessed" if sel is None or presumed is None else "not_required")
            )
            assessed_at = None
            if level != "not_assessed":
                assessed_at = min(now - _MINUTE, admitted + _HOUR * (2 + int(rand() * 40)))
            planned: date | None = None
            if status in _BEFORE_DISCHARGE:
                if rand() < 0.7:
                    planned = self.today + _DAY * (int(rand() * 25) - 3)
            elif discharged is not None and rand() < 0.6:
                planned = to_copenhagen(discharged).date()
            rows.append(
                (
                    pathway_id,
                    patient_id,
                    ward,
                    status,
                    admitted,
                    planned,
                    discharged,
                    closed,
                    LPR3_SYSTEMS[0],
                    f"bench-{pathway_id:09d}",
                    entry[_PREV][_ID] if entry[_PREV] is not None else None,
                    sel,
                    presumed,
                    assessed_at,
                    self.chief_of_ward[ward] if assessed_at else None,
                    2 if discharged else 1,
                    admitted,
                    closed or discharged or admitted,
                )
            )
            if is_open:
                self.open_stay[patient_id] = (pathway_id, ward, planned)
                self._open_stay(entry, ward, level, planned)
            elif status == "closed":
                if level == "required" and (admitted > plan_since or entry[_LIVE_PLAN]):
                    self._historical_plan(entry, ward)
                if rand() < 0.1:
                    self._leave(pathway_id, admitted, discharged)

    def _historical_plan(self, entry: list[Any], ward: int) -> None:
        rand = self.rng.random
        admitted, discharged, closed = entry[_ADM], entry[_DIS], entry[_CLOSED]
        created = admitted + (discharged - admitted) * (0.1 + rand() * 0.3)
        agreed = created + (discharged - created) * (0.2 + rand() * 0.7)
        if entry[_LIVE_PLAN]:  # still in force: the patient is back on a ward
            self._plan(entry, ward, "active", created, agreed=agreed, activated=discharged + _HOUR)
            return
        ended = closed + _DAY * (rand() * 60)
        if ended >= self.now:
            ended = closed
        status = "withdrawn" if rand() < 0.03 else "ended"
        self._plan(
            entry,
            ward,
            status,
            created,
            agreed=None if status == "withdrawn" else agreed,
            activated=None if status == "withdrawn" else discharged + _HOUR,
            ended=ended,
        )

    def _open_stay(self, entry: list[Any], ward: int, level: str, planned: date | None) -> None:
        """Plans, events, facts and leave of an open stay: the ones the scan evaluates."""
        plan = self._open_plan(entry, ward, level)
        known_at = self._open_events(entry, planned)
        self._open_facts(entry, level, known_at, plan)
        self._meetings(entry, ward)
        status, admitted = entry[_STATUS], entry[_ADM]
        if status == "on_leave":
            started = max(admitted + _HOUR, self.now - _DAY * (0.1 + self.rng.random() * 3))
            leaves = self.rows["leave_periods"]
            leaves.append((len(leaves) + 1, entry[_ID], started, None))
        elif self.rng.random() < (0.25 if status == "admitted" else 0.2):
            self._leave(entry[_ID], admitted, entry[_DIS] or self.now)

    def _open_plan(
        self, entry: list[Any], ward: int, level: str
    ) -> tuple[int, datetime | None, bool] | None:
        rand, now = self.rng.random, self.now
        admitted, discharged = entry[_ADM], entry[_DIS]
        end = discharged or now  # what happened before discharge happened before this
        status = _pick(rand(), _OPEN_PLAN_STATUSES[(entry[_STATUS] in _BEFORE_DISCHARGE, level)])
        if status is None:
            return None
        created = max(admitted + _MINUTE, min(end - _HOUR, admitted + _DAY * (0.3 + rand() * 5)))
        agreed = activated = None
        updated = created
        if status == "proposed":
            updated = min(now - 10 * _MINUTE, created + _DAY * (rand() * 6))
        if status in _AGREED_STATES:
            agreed = max(created + _MINUTE, min(end - _HOUR, created + _DAY * (0.5 + rand() * 6)))
            updated = agreed
            if status == "active" and discharged is not None:
                activated = min(now - _MINUTE, discharged + _HOUR * (1 + int(rand() * 20)))
                updated = activated
            if status == "under_revision":
                updated = min(now - _MINUTE, agreed + _DAY)
        return self._plan(
            entry,
            ward,
            status,
            created,
            agreed=agreed,
            activated=activated,
            updated=updated,
            kind="coordination_plan" if level == "not_required" else None,
        )

    def _open_events(self, entry: list[Any], planned: date | None) -> datetime | None:
        """The discharge date (answers when it was first known), follow-up after discharge."""
        rand, now = self.rng.random, self.now
        pathway_id, admitted, discharged = entry[_ID], entry[_ADM], entry[_DIS]
        known_at = None
        if planned is not None and entry[_STATUS] in _BEFORE_DISCHARGE:
            known_at = min(now - 5 * _MINUTE, admitted + _DAY * (0.2 + rand() * 5))
            payload = {"planned_discharge_on": planned.isoformat()}
            self._event(pathway_id, "discharge_planned", known_at, payload, annulled=rand() < 0.03)
            if rand() < 0.15:  # planned again later
                again = min(now - _MINUTE, known_at + _DAY * (rand() * 4))
                self._event(pathway_id, "discharge_planned", again, payload)
        if discharged is None:
            return known_at
        booked = None
        if rand() < 0.55:
            booked = discharged + _DAY * (1 + rand() * 13)
            when = min(now - _MINUTE, discharged + _HOUR * (1 + rand() * 20))
            self._event(
                pathway_id, "follow_up_booked", when, {"appointment_at": booked.isoformat()}
            )
        if booked is not None and booked <= now and rand() < 0.6:
            self._event(pathway_id, "follow_up_held", booked + _HOUR, None)
        elif booked is None and rand() < 0.25:
            held = discharged + _DAY * (1 + rand() * 6)
            if held <= now:
                self._event(pathway_id, "follow_up_held", held, None)
        return known_at

    def _open_facts(
        self,
        entry: list[Any],
        level: str,
        known_at: datetime | None,
        plan: tuple[int, datetime | None, bool] | None,
    ) -> None:
        """The municipality told, network meetings, the agreed plan on its way to the GP."""
        rand, now = self.rng.random, self.now
        pathway_id, status = entry[_ID], entry[_STATUS]
        admitted, discharged = entry[_ADM], entry[_DIS]
        if known_at is not None and level != "not_required" and rand() < 0.65:
            told = (
                max(admitted, known_at - _DAY * (0.1 + rand() * 2))
                if rand() < 0.1  # told before the date was (re)set: to be told again
                else min(now - _MINUTE, known_at + _DAY * (rand() * 1.5))
            )
            self._fact(pathway_id, "municipality_notified", told)
        if entry[_PREV] is not None and status in _BEFORE_DISCHARGE and rand() < 0.4:
            told = min(now - _MINUTE, admitted + _HOUR * 3)
            self._fact(pathway_id, "municipality_notified", told)
        if rand() < 0.1:
            end = discharged or now
            requested = max(
                admitted + _MINUTE, min(end - _HOUR, admitted + _DAY * (0.5 + rand() * 20))
            )
            self._fact(pathway_id, "network_meeting_requested", requested)
            held = requested + _DAY * (0.5 + rand() * 8)
            if rand() < 0.5 and held <= now:
                self._fact(pathway_id, "network_meeting_held", held)
        if plan is None or discharged is None:
            return
        plan_id, agreed, gp_accepted = plan
        if agreed is None or gp_accepted:
            return
        at = max(discharged, agreed)
        gp = self.gp_of[entry[_PAT] - 1]
        for kind in ("plan_shared", "plan_delivered", "plan_read")[: int(rand() * 4)]:
            at = min(now - _MINUTE, at + _HOUR * (1 + rand() * 30))
            self._fact(pathway_id, kind, at, plan_id=plan_id, organisation_id=gp)

    def _meetings(self, entry: list[Any], ward: int) -> None:
        """A network meeting of an open stay: requested, held (with 1 to 3 actions owned by the ward, the
        municipality or the GP, open, done or not done) or cancelled. A random stream of its own, so the
        rest of the data set is the one it was before meetings existed."""
        rand, now = self.meeting_rng.random, self.now
        if rand() >= MEETING_SHARE:
            return
        pathway_id, patient_id = entry[_ID], entry[_PAT]
        admitted, end = entry[_ADM], entry[_DIS] or now
        requested = max(admitted + _MINUTE, min(end - _HOUR, admitted + _DAY * (0.5 + rand() * 15)))
        kind = rand()
        status = "held" if kind < 0.7 else ("requested" if kind < 0.85 else "cancelled")
        held_on = None
        if status == "held":
            held_on = to_copenhagen(requested).date() + _DAY * int(rand() * 6)
            held_on = min(held_on, self.today)
        meetings = self.rows["network_meetings"]
        meeting_id = len(meetings) + 1
        meetings.append(
            (
                meeting_id,
                patient_id,
                pathway_id,
                status,
                "Udskrivelse nærmer sig",
                requested,
                None,
                ward,
                None,
                "",
                held_on,
                _PARTICIPANTS if held_on else Jsonb([]),
                True if held_on else None,
                "Jeg vil gerne hjem." if held_on else "",
                "",
                "Borgeren er udskrevet" if status == "cancelled" else "",
                1,
                requested,
                requested,
            )
        )
        if held_on is None:
            return
        owners = (
            ward,
            self.municipality_id.get(self.home_code[patient_id - 1]),
            self.gp_of[patient_id - 1],
        )
        actions = self.rows["meeting_actions"]
        for _ in range(1 + int(rand() * 3)):
            owner = owners[int(rand() * 3)] or ward
            due = held_on + _DAY * int(rand() * 14)
            done = rand()
            action_status = "open" if done < 0.6 else ("done" if done < 0.9 else "not_done")
            closed = None if action_status == "open" else now - _HOUR
            actions.append(
                (
                    len(actions) + 1,
                    meeting_id,
                    patient_id,
                    pathway_id,
                    "Søg bostøtte efter serviceloven § 85",
                    owner,
                    due,
                    action_status,
                    closed,
                    None,
                    None,
                    1 if closed is None else 2,
                    requested,
                    closed or requested,
                )
            )

    def _leave(self, pathway_id: int, admitted: datetime, end: datetime) -> None:
        rand = self.rng.random
        started = admitted + (end - admitted) * (0.2 + rand() * 0.5)
        ended = started + _HOUR * (6 + rand() * 60)
        if ended < end:
            rows = self.rows["leave_periods"]
            rows.append((len(rows) + 1, pathway_id, started, ended))

    def _event(
        self,
        pathway_id: int,
        kind: str,
        at: datetime,
        payload: dict[str, Any] | None,
        *,
        annulled: bool = False,
    ) -> None:
        n = len(self.extra_events)
        self.extra_events.append(
            (
                pathway_id,
                kind,
                at,
                at + _MINUTE if at + _MINUTE <= self.now else at,
                "user",
                f"bench:{pathway_id}:{kind}:{n}",
                None,
                annulled,
                None,
                loader._json(payload) if payload else _EMPTY,
            )
        )

    def _fact(
        self,
        pathway_id: int,
        kind: str,
        at: datetime,
        *,
        plan_id: int | None = None,
        organisation_id: int | None = None,
    ) -> None:
        rows = self.rows["pathway_facts"]
        fact_id = len(rows) + 1
        rows.append(
            (
                fact_id,
                pathway_id,
                kind,
                at,
                at,
                "user",
                f"bench:fact:{fact_id}",
                plan_id,
                organisation_id,
                None,
                _EMPTY,
            )
        )

    def _plan(
        self,
        entry: list[Any],
        ward: int,
        status: str,
        created: datetime,
        *,
        agreed: datetime | None = None,
        activated: datetime | None = None,
        ended: datetime | None = None,
        updated: datetime | None = None,
        kind: str | None = None,
    ) -> tuple[int, datetime | None, bool]:
        """A plan of the stay with its version 1 and its parties; answers (id, agreed_at, GP accepted)."""
        rand = self.rng.random
        pathway_id, patient_id = entry[_ID], entry[_PAT]
        plans = self.rows["plans"]
        plan_id = len(plans) + 1
        refused = kind == "coordination_plan" or rand() < 0.12
        kind = "coordination_plan" if refused else "discharge_agreement"
        creator = self.staff[ward][0][0]
        review_on = (agreed + _DAY * (14 + int(rand() * 106))).date() if agreed else None
        updated = updated or ended or activated or agreed or created
        valid_from = (activated or agreed).date() if (activated or agreed) else None
        plans.append(
            (
                plan_id,
                kind,
                status,
                patient_id,
                pathway_id,
                ward,
                1,
                valid_from,
                ended.date() if ended else None,
                review_on,
                "refused" if refused else "participates",
                created.date() if refused else None,
                "superseded" if status == "ended" else "",
                creator,
                loader.LOCK_VERSION.get(status, 2),
                created,
                updated,
                agreed,
                activated,
                ended,
            )
        )
        sections = (
            self.draft_sections
            if status == "draft"
            else self.complete_sections[int(rand() * len(self.complete_sections))]
        )
        self.rows["plan_versions"].append(
            (plan_id, plan_id, 1, sections, review_on, "draft created", creator, created)
        )
        parties = self.rows["plan_participants"]
        answered = agreed is not None
        municipality = self.municipality_id[self.home_code[patient_id - 1]]
        gp = self.gp_of[patient_id - 1]
        accepted_at = agreed or updated

        def party(
            role: str, org_id: int | None, name: str, *, accepted: bool, required: bool = True
        ) -> None:
            answer = (
                ("accepted", "", 1, accepted_at, None)
                if accepted
                else ("pending", "", None, None, None)
            )
            parties.append((len(parties) + 1, plan_id, role, org_id, name, "", required, *answer))

        proposed = status == "proposed"
        if not refused:
            party(
                "patient",
                None,
                self.names[patient_id - 1],
                accepted=answered or (proposed and rand() < 0.5),
            )
        party("ward", ward, "", accepted=answered or proposed)
        party("municipality", municipality, "", accepted=answered or (proposed and rand() < 0.3))
        gp_required = not (answered and status != "ended" and rand() < 0.3)
        gp_accepted = gp_required and (answered or (proposed and rand() < 0.4))
        if gp is not None:
            party("gp", gp, "", accepted=gp_accepted, required=gp_required)
        if proposed and rand() < 0.05:
            party("relative", None, "Pårørende", accepted=False, required=False)
        return plan_id, agreed, gp_accepted and answered

    # ------------------------------------------------------------------ phase 3: contact persons
    def _contacts(self, patients: list[list[Any]]) -> None:
        rand, today, now = self.rng.random, self.today, self.now
        rows = self.rows["contact_assignments"]

        def add(
            patient_id: int,
            sector: str,
            org: int,
            person: int | None,
            *,
            valid_from: date,
            valid_to: date | None = None,
            backup: int | None = None,
        ) -> None:
            rows.append(
                (
                    len(rows) + 1,
                    patient_id,
                    sector,
                    org,
                    person,
                    backup,
                    f"team{org}@bench.invalid",
                    valid_from,
                    valid_to,
                    "ended" if valid_to else "",
                    None,
                    now - _DAY * 2,
                )
            )

        for i in range(len(patients)):
            patient_id = i + 1
            stay = self.open_stay.get(patient_id)
            municipality = self.municipality_id[self.home_code[i]]
            if stay is None:
                if rand() < 0.1:  # history only
                    start = today - _DAY * (400 + int(rand() * 2000))
                    person = self.staff[municipality][0][0]
                    end = start + _DAY * (30 + int(rand() * 300))
                    add(
                        patient_id,
                        "municipality",
                        municipality,
                        person,
                        valid_from=start,
                        valid_to=end,
                    )
                continue
            ward = stay[1]
            for sector, org in (
                ("region", ward),
                ("municipality", municipality),
                ("general_practice", self.gp_of[i]),
            ):
                if org is None:  # no GP registered: no contact person in general practice
                    continue
                active, inactive = self.staff[org]
                person = active[int(rand() * len(active))]
                backup = active[0] if active[0] != person and rand() < 0.5 else None
                start = today - _DAY * (1 + int(rand() * 400))
                if rand() < 0.3:  # an earlier contact person, ended
                    earlier = start - _DAY * 200
                    add(
                        patient_id,
                        sector,
                        org,
                        active[-1],
                        valid_from=earlier,
                        valid_to=start - _DAY,
                    )
                kind = _pick(rand(), _CONTACT_KINDS)
                if kind == "current":
                    add(patient_id, sector, org, person, valid_from=start, backup=backup)
                elif kind == "team_inbox":  # a fallback, no fixed person
                    add(patient_id, sector, org, None, valid_from=start)
                elif kind == "inactive" and inactive:  # the person has left
                    add(patient_id, sector, org, inactive[0], valid_from=start, backup=backup)
                elif kind == "ended":  # and nobody after
                    end = max(start, today - _DAY * (1 + int(rand() * 20)))
                    add(patient_id, sector, org, person, valid_from=start, valid_to=end)
                elif kind == "later":  # starts in a few days
                    add(
                        patient_id,
                        sector,
                        org,
                        person,
                        valid_from=today + _DAY * (1 + int(rand() * 10)),
                    )

    # ------------------------------------------------------------------ events for COPY
    def events(self) -> Iterator[tuple[Any, ...]]:
        """admitted (and discharged) of every stay, derived from the pathway rows; then the extra ones."""
        n = 0
        for row in self.rows["pathways"]:
            pathway_id, admitted, discharged = row[0], row[4], row[6]
            n += 1
            yield (
                n,
                pathway_id,
                "admitted",
                admitted,
                admitted + _MINUTE,
                "medcom",
                f"bench:{pathway_id}:admitted",
                None,
                False,
                None,
                _EMPTY,
            )
            if discharged is not None:
                n += 1
                yield (
                    n,
                    pathway_id,
                    "discharged",
                    discharged,
                    discharged + _MINUTE,
                    "medcom",
                    f"bench:{pathway_id}:discharged",
                    None,
                    False,
                    None,
                    _EMPTY,
                )
        for extra in self.extra_events:
            n += 1
            yield (n, *extra)


# ---------------------------------------------------------------------------- loading
def loaded_now(url: str) -> datetime | None:
    """The ``now`` the data set was generated for (kept in the schema's comment), None if not loaded."""
    schema = loader.schema_of(url)
    with psycopg.connect(loader.libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            [schema],
        ).fetchone()
    comment = row[0] if row else None
    if not comment or not comment.startswith("loaded_now="):
        return None
    return datetime.fromisoformat(comment.removeprefix("loaded_now="))


def load(
    url: str,
    *,
    pathways: int = DEFAULT_PATHWAYS,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> PathwayLoadReport:
    """(Re)build the URL's schema with the migrations and fill it; ``url`` names the schema."""
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        phases[phase] = time.perf_counter() - clock
        clock = time.perf_counter()

    at = (now or datetime.now(UTC)).replace(microsecond=0)
    schema = loader.recreate_schema(url)
    migrate.upgrade(url)
    lap("schema")
    data = _PathwayDataSet(pathways=pathways, seed=seed, now=at)
    lap("generate")
    counts: dict[str, int] = {}
    with psycopg.connect(loader.libpq_url(url)) as conn:
        with conn.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            restore = loader._set_aside_constraints(cursor, TABLES)
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
            for table in TABLES:
                rows = data.events() if table == "pathway_events" else data.rows[table]
                counts[table] = loader._copy(cursor, table, rows, COLUMNS[table])
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            lap("copy")
            for statement in restore:
                cursor.execute(statement)
            cursor.execute(f"COMMENT ON SCHEMA \"{schema}\" IS 'loaded_now={at.isoformat()}'")
        conn.commit()
        lap("constraints")
        conn.autocommit = True
        conn.execute(f"ANALYZE {', '.join(TABLES)}")
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM pathways GROUP BY status").fetchall()
        )
        lap("analyze")
    return PathwayLoadReport(
        schema=schema,
        now=at,
        counts=counts,
        statuses=statuses,
        seconds=sum(phases.values()),
        phases=phases,
    )


def main(argv: Sequence[str] | None = None) -> None:

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    loader.url_argument(parser)
    parser.add_argument("--schema", default=SCHEMA)
    parser.add_argument("--pathways", type=int, default=DEFAULT_PATHWAYS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    report = load(loader.with_schema(args.url, args.schema), pathways=args.pathways, seed=args.seed)
    counts = ", ".join(f"{n} {table}" for table, n in report.counts.items())
    phases = ", ".join(f"{phase} {seconds:.1f}" for phase, seconds in report.phases.items())
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    print(f"loaded schema {report.schema} in {report.seconds:.1f} s ({phases}): {counts}")
    print(f"pathways: {statuses}")


if __name__ == "__main__":
    main()
