"""The demo's synthetic identities: names, organisations, CPR numbers, SOR codes and GLNs that cannot belong
to anyone (each CPR number has a valid birth date before 2007 and fails the modulus-11 check every CPR number
issued before 2007 passes)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pathways.identifiers import gs1_check_digit
from pathways.plans import SectionKey


def demo_gln(n: int) -> str:
    body = f"579000{n:06d}"
    return body + str(gs1_check_digit(body))


def demo_sor(n: int) -> str:
    return f"9{n:014d}"  # 15 digits in a range no real SOR code uses


# Demo SOR numbers by kind (demo_sor(n)): centres 1-3, wards 1100-3200, municipalities 5000 + kommunekode,
# GP clinics 9000 + their place in GP_CLINICS. Every organisation that exchanges MedCom messages (the
# region's units, the municipalities, the GP clinics) has a SOR code and a GLN: its messaging address.
MUNICIPALITY_SOR_BASE = 5000
GP_SOR_BASE = 9000


def synthetic_cpr(birth: date, serial_seed: int) -> str:
    """A date-valid CPR (serial first digit 0-3: born 1900-1999) that fails modulus 11."""
    prefix = birth.strftime("%d%m%y")
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    for offset in range(10_000):
        serial = f"{(serial_seed + offset) % 4000:04d}"
        cpr = prefix + serial
        if sum(int(d) * w for d, w in zip(cpr, weights, strict=True)) % 11 != 0:
            return cpr
    raise AssertionError("unreachable: most serials fail modulus 11")


GIVEN = [
    "Mette",
    "Jonas",
    "Sofie",
    "Mikkel",
    "Ida",
    "Frederik",
    "Laura",
    "Emil",
    "Anna",
    "Mads",
    "Freja",
    "Oliver",
    "Clara",
    "William",
    "Emma",
    "Lucas",
    "Maja",
    "Noah",
    "Karen",
    "Peter",
]
FAMILY = [
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Poulsen",
]

# Each centre: its name, a number its demo SOR code is made from, and its wards.
CENTRES = [
    (
        "Psykiatrisk Center København",
        1,
        [("Afsnit 6202, akutmodtagelse", 11), ("Afsnit 6214, psykose", 12)],
    ),
    ("Psykiatrisk Center Amager", 2, [("Afsnit A3, almen psykiatri", 21)]),
    (
        "Psykiatrisk Center Nordsjælland",
        3,
        [("Afsnit N1, Hillerød", 31), ("Afsnit N4, affektive lidelser", 32)],
    ),
]
MUNICIPALITIES = [
    ("101", "Københavns Kommune"),
    ("147", "Frederiksberg Kommune"),
    ("157", "Gentofte Kommune"),
    ("219", "Hillerød Kommune"),
]
GP_CLINICS = [
    ("Lægehuset Nørrebro", "010101"),
    ("Lægerne Amagerbrogade", "010202"),
    ("Frederiksberg Lægepraksis", "010303"),
    ("Lægehuset Hellerup", "010404"),
    ("Hillerød Lægecenter", "010505"),
    ("Lægerne på Vesterbro", "010606"),
]


def demo_sections(today: date) -> dict[str, Any]:
    follow_up = today + timedelta(days=5)
    return {
        SectionKey.TREATMENT: {
            "text": "Ambulant opfølgning i distriktspsykiatrien, samtaler hver 14. dag."
        },
        SectionKey.MEDICATION: {
            "text": "Fortsat antipsykotisk behandling; egen læge overtager receptfornyelse."
        },
        SectionKey.SOCIAL_SUPPORT: {
            "measures": ["SEL §85 bostøtte"],
            "provider": "Socialpsykiatrien",
        },
        SectionKey.HOUSING: {"text": "Bor i egen lejlighed; bostøtte to gange om ugen."},
        SectionKey.EMPLOYMENT_EDUCATION: {"text": "Kontakt til jobcenter om IPS-forløb."},
        SectionKey.CRISIS_PLAN: {
            "warning_signs": ["søvnløshed", "isolation"],
            "what_helps": ["gåture", "kontakt til søster"],
            "call_day": "Distriktspsykiatrien, tlf. 70 00 00 01",
            "call_night": "Psykiatrisk akutmodtagelse, tlf. 70 00 00 02",
        },
        SectionKey.IF_TREATMENT_STOPS: {
            "text": "Kontaktpersonen i kommunen kontakter distriktspsykiatrien."
        },
        SectionKey.FIRST_FOLLOW_UP: {"date": follow_up.isoformat(), "who": "Distriktspsykiatrien"},
        SectionKey.CITIZEN_GOALS: {"text": "At komme tilbage på arbejde og se min familie."},
    }
