"""The 18 regions of France and their ARS, and the department of each region (INSEE codes, 2024 geography).

Used by the FINESS import to derive an EJ's region from its department, and by the dashboard's department
filter. The FINESS extract writes the overseas departments « 9A » (Guadeloupe, 971) to « 9F » (Mayotte,
976); both spellings are accepted. Saint-Pierre-et-Miquelon (975, « 9E ») and the other overseas collectivities
have no ARS of the 18 regions and are refused as unknown.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionInfo:
    code: str
    name: str
    agency_name: str
    departments: tuple[str, ...]


REGIONS: tuple[RegionInfo, ...] = (
    RegionInfo("01", "Guadeloupe", "ARS Guadeloupe", ("971",)),
    RegionInfo("02", "Martinique", "ARS Martinique", ("972",)),
    RegionInfo("03", "Guyane", "ARS Guyane", ("973",)),
    RegionInfo("04", "La Réunion", "ARS La Réunion", ("974",)),
    RegionInfo("06", "Mayotte", "ARS Mayotte", ("976",)),
    RegionInfo("11", "Île-de-France", "ARS Île-de-France", ("75", "77", "78", "91", "92", "93", "94", "95")),
    RegionInfo("24", "Centre-Val de Loire", "ARS Centre-Val de Loire", ("18", "28", "36", "37", "41", "45")),
    RegionInfo(
        "27",
        "Bourgogne-Franche-Comté",
        "ARS Bourgogne-Franche-Comté",
        ("21", "25", "39", "58", "70", "71", "89", "90"),
    ),
    RegionInfo("28", "Normandie", "ARS Normandie", ("14", "27", "50", "61", "76")),
    RegionInfo("32", "Hauts-de-France", "ARS Hauts-de-France", ("02", "59", "60", "62", "80")),
    RegionInfo("44", "Grand Est", "ARS Grand Est", ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88")),
    RegionInfo("52", "Pays de la Loire", "ARS Pays de la Loire", ("44", "49", "53", "72", "85")),
    RegionInfo("53", "Bretagne", "ARS Bretagne", ("22", "29", "35", "56")),
    RegionInfo(
        "75",
        "Nouvelle-Aquitaine",
        "ARS Nouvelle-Aquitaine",
        ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    ),
    RegionInfo(
        "76",
        "Occitanie",
        "ARS Occitanie",
        ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    ),
    RegionInfo(
        "84",
        "Auvergne-Rhône-Alpes",
        "ARS Auvergne-Rhône-Alpes",
        ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    ),
    RegionInfo(
        "93",
        "Provence-Alpes-Côte d'Azur",
        "ARS Provence-Alpes-Côte d'Azur",
        ("04", "05", "06", "13", "83", "84"),
    ),
    RegionInfo("94", "Corse", "ARS Corse", ("2A", "2B")),
)

REGION_OF_DEPARTMENT: dict[str, RegionInfo] = {
    department: region for region in REGIONS for department in region.departments
}

# The FINESS extract's spelling of the overseas departments.
_FINESS_OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9F": "976"}


def normalize_department(code: str) -> str:
    """The INSEE code of a department as the FINESS extract or a person writes it (« 1 », « 01 », « 9A »,
    « 971 », « 2a »); unknown codes come back cleaned but unchanged."""
    code = code.strip().upper()
    code = _FINESS_OVERSEAS.get(code, code)
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    return code


def region_of_department(code: str) -> RegionInfo | None:
    """The region of a department (any spelling `normalize_department` accepts), None when unknown."""
    return REGION_OF_DEPARTMENT.get(normalize_department(code))
