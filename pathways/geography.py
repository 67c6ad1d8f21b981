"""Danish regions and municipalities (kommuner) as reference data.

Codes follow the DK-core CodeSystems: regions as ISO 3166-2 subdivisions (DK-81..DK-85), municipalities as
Danmarks Statistik kommunekoder (3 digits; DK-core shows them in a 4-digit form with a leading zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Region(StrEnum):
    NORDJYLLAND = "DK-81"
    MIDTJYLLAND = "DK-82"
    SYDDANMARK = "DK-83"
    HOVEDSTADEN = "DK-84"
    SJAELLAND = "DK-85"

    @property
    def display(self) -> str:
        return REGION_NAMES[self]


REGION_NAMES: dict[Region, str] = {
    Region.NORDJYLLAND: "Region Nordjylland",
    Region.MIDTJYLLAND: "Region Midtjylland",
    Region.SYDDANMARK: "Region Syddanmark",
    Region.HOVEDSTADEN: "Region Hovedstaden",
    Region.SJAELLAND: "Region Sjælland",
}


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str  # canonical 3-digit kommunekode, e.g. "101"
    name: str
    region: Region

    @property
    def display_code(self) -> str:
        """The 4-digit form DK-core uses in FHIR (e.g. "0101")."""
        return self.code.zfill(4)


_MUNICIPALITIES: tuple[tuple[str, str, Region], ...] = (
    # Region Hovedstaden (29)
    ("101", "København", Region.HOVEDSTADEN),
    ("147", "Frederiksberg", Region.HOVEDSTADEN),
    ("151", "Ballerup", Region.HOVEDSTADEN),
    ("153", "Brøndby", Region.HOVEDSTADEN),
    ("155", "Dragør", Region.HOVEDSTADEN),
    ("157", "Gentofte", Region.HOVEDSTADEN),
    ("159", "Gladsaxe", Region.HOVEDSTADEN),
    ("161", "Glostrup", Region.HOVEDSTADEN),
    ("163", "Herlev", Region.HOVEDSTADEN),
    ("165", "Albertslund", Region.HOVEDSTADEN),
    ("167", "Hvidovre", Region.HOVEDSTADEN),
    ("169", "Høje-Taastrup", Region.HOVEDSTADEN),
    ("173", "Lyngby-Taarbæk", Region.HOVEDSTADEN),
    ("175", "Rødovre", Region.HOVEDSTADEN),
    ("183", "Ishøj", Region.HOVEDSTADEN),
    ("185", "Tårnby", Region.HOVEDSTADEN),
    ("187", "Vallensbæk", Region.HOVEDSTADEN),
    ("190", "Furesø", Region.HOVEDSTADEN),
    ("201", "Allerød", Region.HOVEDSTADEN),
    ("210", "Fredensborg", Region.HOVEDSTADEN),
    ("217", "Helsingør", Region.HOVEDSTADEN),
    ("219", "Hillerød", Region.HOVEDSTADEN),
    ("223", "Hørsholm", Region.HOVEDSTADEN),
    ("230", "Rudersdal", Region.HOVEDSTADEN),
    ("240", "Egedal", Region.HOVEDSTADEN),
    ("250", "Frederikssund", Region.HOVEDSTADEN),
    ("260", "Halsnæs", Region.HOVEDSTADEN),
    ("270", "Gribskov", Region.HOVEDSTADEN),
    ("400", "Bornholm", Region.HOVEDSTADEN),
    # Region Sjælland (17)
    ("253", "Greve", Region.SJAELLAND),
    ("259", "Køge", Region.SJAELLAND),
    ("265", "Roskilde", Region.SJAELLAND),
    ("269", "Solrød", Region.SJAELLAND),
    ("306", "Odsherred", Region.SJAELLAND),
    ("316", "Holbæk", Region.SJAELLAND),
    ("320", "Faxe", Region.SJAELLAND),
    ("326", "Kalundborg", Region.SJAELLAND),
    ("329", "Ringsted", Region.SJAELLAND),
    ("330", "Slagelse", Region.SJAELLAND),
    ("336", "Stevns", Region.SJAELLAND),
    ("340", "Sorø", Region.SJAELLAND),
    ("350", "Lejre", Region.SJAELLAND),
    ("360", "Lolland", Region.SJAELLAND),
    ("370", "Næstved", Region.SJAELLAND),
    ("376", "Guldborgsund", Region.SJAELLAND),
    ("390", "Vordingborg", Region.SJAELLAND),
    # Region Syddanmark (22)
    ("410", "Middelfart", Region.SYDDANMARK),
    ("420", "Assens", Region.SYDDANMARK),
    ("430", "Faaborg-Midtfyn", Region.SYDDANMARK),
    ("440", "Kerteminde", Region.SYDDANMARK),
    ("450", "Nyborg", Region.SYDDANMARK),
    ("461", "Odense", Region.SYDDANMARK),
    ("479", "Svendborg", Region.SYDDANMARK),
    ("480", "Nordfyns", Region.SYDDANMARK),
    ("482", "Langeland", Region.SYDDANMARK),
    ("492", "Ærø", Region.SYDDANMARK),
    ("510", "Haderslev", Region.SYDDANMARK),
    ("530", "Billund", Region.SYDDANMARK),
    ("540", "Sønderborg", Region.SYDDANMARK),
    ("550", "Tønder", Region.SYDDANMARK),
    ("561", "Esbjerg", Region.SYDDANMARK),
    ("563", "Fanø", Region.SYDDANMARK),
    ("573", "Varde", Region.SYDDANMARK),
    ("575", "Vejen", Region.SYDDANMARK),
    ("580", "Aabenraa", Region.SYDDANMARK),
    ("607", "Fredericia", Region.SYDDANMARK),
    ("621", "Kolding", Region.SYDDANMARK),
    ("630", "Vejle", Region.SYDDANMARK),
    # Region Midtjylland (19)
    ("615", "Horsens", Region.MIDTJYLLAND),
    ("657", "Herning", Region.MIDTJYLLAND),
    ("661", "Holstebro", Region.MIDTJYLLAND),
    ("665", "Lemvig", Region.MIDTJYLLAND),
    ("671", "Struer", Region.MIDTJYLLAND),
    ("706", "Syddjurs", Region.MIDTJYLLAND),
    ("707", "Norddjurs", Region.MIDTJYLLAND),
    ("710", "Favrskov", Region.MIDTJYLLAND),
    ("727", "Odder", Region.MIDTJYLLAND),
    ("730", "Randers", Region.MIDTJYLLAND),
    ("740", "Silkeborg", Region.MIDTJYLLAND),
    ("741", "Samsø", Region.MIDTJYLLAND),
    ("746", "Skanderborg", Region.MIDTJYLLAND),
    ("751", "Aarhus", Region.MIDTJYLLAND),
    ("756", "Ikast-Brande", Region.MIDTJYLLAND),
    ("760", "Ringkøbing-Skjern", Region.MIDTJYLLAND),
    ("766", "Hedensted", Region.MIDTJYLLAND),
    ("779", "Skive", Region.MIDTJYLLAND),
    ("791", "Viborg", Region.MIDTJYLLAND),
    # Region Nordjylland (11)
    ("773", "Morsø", Region.NORDJYLLAND),
    ("787", "Thisted", Region.NORDJYLLAND),
    ("810", "Brønderslev", Region.NORDJYLLAND),
    ("813", "Frederikshavn", Region.NORDJYLLAND),
    ("820", "Vesthimmerlands", Region.NORDJYLLAND),
    ("825", "Læsø", Region.NORDJYLLAND),
    ("840", "Rebild", Region.NORDJYLLAND),
    ("846", "Mariagerfjord", Region.NORDJYLLAND),
    ("849", "Jammerbugt", Region.NORDJYLLAND),
    ("851", "Aalborg", Region.NORDJYLLAND),
    ("860", "Hjørring", Region.NORDJYLLAND),
)

MUNICIPALITIES: dict[str, Municipality] = {
    code: Municipality(code, name, region) for code, name, region in _MUNICIPALITIES
}
