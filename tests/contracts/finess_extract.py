"""A small FINESS extract as published (etalab layout, DOMAIN.md §8), built line by line for the import tests."""

from tests.contracts.factories import _luhn_key


def finess(prefix: str) -> str:
    """A valid all-digit FINESS number (right Luhn key) starting with the 8 characters of `prefix`."""
    return prefix + _luhn_key(prefix)


# EJ and ET numbers of the sample.
CHU_TOULOUSE = finess("31078140")
PURPAN = finess("31000001")
RANGUEIL = finess("31000002")
CLINIQUE_EJ = finess("31000010")
CLINIQUE = finess("31000011")
AJACCIO_EJ = "2A0000022"  # Corse-du-Sud: a letter, no Luhn key to check
AJACCIO = "2A0000014"
CHU_GUADELOUPE_EJ = finess("97010000")
CHU_GUADELOUPE = finess("97010001")


def structureet(
    et: str,
    ej: str,
    rs: str,
    *,
    rslongue: str = "",
    numvoie: str = "",
    typvoie: str = "",
    voie: str = "",
    compvoie: str = "",
    lieuditbp: str = "",
    departement: str = "31",
    libdepartement: str = "HAUTE GARONNE",
    acheminement: str = "31000 TOULOUSE",
    telephone: str = "0561000000",
) -> str:
    """One `structureet` line, its 32 fields in the published order."""
    fields = [
        "structureet",
        et,
        ej,
        rs,
        rslongue,
        "",  # complrs
        "",  # compldistrib
        numvoie,
        typvoie,
        voie,
        compvoie,
        lieuditbp,
        "555",  # commune
        departement,
        libdepartement,
        acheminement,
        telephone,
        "",  # telecopie
        "355",
        "Centre Hospitalier (C.H.)",
        "1102",
        "Centres Hospitaliers",
        "26310004500012",
        "8610Z",
        "03",
        "ARS établissements Publics de santé dotation globale",
        "1",
        "Etablissement public de santé",
        "1979-02-13",
        "1979-02-13",
        "2024-01-10",
        "",  # numuai
    ]
    assert len(fields) == 32
    return ";".join(fields)


def geolocalisation(et: str) -> str:
    return f"geolocalisation;{et};574620.3;6279660.1;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2024-01-10"


COMMENT = "finess;etalab;93;2024-01-15"


def sample_lines() -> list[str]:
    """The sample's lines (no final newline): a comment, 5 ET of 4 EJ in 3 regions (Corsica 2A, Guadeloupe 9A),
    then 5 geolocation lines."""
    ets = [
        structureet(
            PURPAN,
            CHU_TOULOUSE,
            "HOPITAL PURPAN CHU TOULOUSE",
            rslongue="CHU DE TOULOUSE - HÔPITAL PURPAN",
            numvoie="1",
            typvoie="PL",
            voie="DU DOCTEUR BAYLAC",
            acheminement="31059 TOULOUSE CEDEX 9",
            telephone="0561771111",
        ),
        structureet(
            RANGUEIL,
            CHU_TOULOUSE,
            "HOPITAL RANGUEIL",
            rslongue="CHU DE TOULOUSE - HÔPITAL RANGUEIL",
            numvoie="1",
            typvoie="AV",
            voie="DU PROFESSEUR JEAN POULHÈS",
            acheminement="31059 TOULOUSE CEDEX 9",
        ),
        structureet(
            CLINIQUE,
            CLINIQUE_EJ,
            "CLINIQUE PASTEUR",
            numvoie="45",
            compvoie="B",
            typvoie="AV",
            voie="DE LOMBEZ",
            acheminement="31300 TOULOUSE",
        ),
        structureet(
            AJACCIO,
            AJACCIO_EJ,
            "CH D'AJACCIO",
            rslongue="CENTRE HOSPITALIER DE NOTRE-DAME DE LA MISÉRICORDE",
            numvoie="27",
            typvoie="AV",
            voie="IMPÉRATRICE EUGÉNIE",
            departement="2A",
            libdepartement="CORSE DU SUD",
            acheminement="20000 AJACCIO",
            telephone="0495295090",
        ),
        structureet(
            CHU_GUADELOUPE,
            CHU_GUADELOUPE_EJ,
            "CHU POINTE-A-PITRE",
            rslongue="CHU DE LA GUADELOUPE",
            lieuditbp="ROUTE DE CHAUVEL",
            departement="9A",
            libdepartement="GUADELOUPE",
            acheminement="97159 POINTE A PITRE CEDEX",
            telephone="0590891010",
        ),
    ]
    finess_numbers = [PURPAN, RANGUEIL, CLINIQUE, AJACCIO, CHU_GUADELOUPE]
    return [COMMENT, *ets, *(geolocalisation(number) for number in finess_numbers)]


def encode(lines: list[str], *, newline: bool = True) -> bytes:
    """The lines as the published file: ISO-8859-1, « \\n » line ends."""
    return ("\n".join(lines) + ("\n" if newline else "")).encode("iso-8859-1")


def sample() -> bytes:
    return encode(sample_lines())
