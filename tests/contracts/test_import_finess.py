"""`manage.py import_finess FILE` and its service (contracts.finess_import), on a small realistic extract and on
broken ones: every bad line is reported with its number, and nothing is written."""

import gzip
import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.enums import EventType
from audit.models import AuditEvent
from contracts import finess_import
from contracts.models import EntiteJuridique, Etablissement, Region
from tests.contracts.factories import ContractFactory, EntiteJuridiqueFactory, EtablissementFactory, RegionFactory
from tests.contracts.finess_extract import (
    AJACCIO,
    AJACCIO_EJ,
    CHU_GUADELOUPE,
    CHU_GUADELOUPE_EJ,
    CHU_TOULOUSE,
    CLINIQUE,
    CLINIQUE_EJ,
    COMMENT,
    PURPAN,
    RANGUEIL,
    encode,
    finess,
    geolocalisation,
    sample,
    sample_lines,
    structureet,
)


def run(path, *args):
    out = io.StringIO()
    call_command("import_finess", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def extract(tmp_path):
    """Write `content` (bytes) to a file and return its path."""

    def write(content: bytes, name="etalab-cs1100507-stock.csv"):
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


def database_state():
    return (
        EntiteJuridique.objects.count(),
        Etablissement.objects.count(),
        Region.objects.count(),
        AuditEvent.objects.count(),
    )


# --- A well-formed extract --------------------------------------------------------------------------


def test_the_dry_run_reports_the_plan_and_writes_nothing(extract):
    output = run(extract(sample()))
    assert "Simulation" in output
    assert "Bilan de la simulation (rien n'a été écrit)" in output
    assert "régions à créer : 3" in output
    assert "EJ à créer : 4" in output
    assert "ET à créer : 5" in output
    assert "lignes ignorées : 6" in output  # the comment line and 5 geolocation lines
    assert f"{PURPAN} CHU DE TOULOUSE - HÔPITAL PURPAN — EJ {CHU_TOULOUSE} (ligne 2)" in output
    assert database_state() == (0, 0, 0, 0)


def test_the_wet_run_creates_ej_et_and_regions_from_the_departments(extract):
    output = run(extract(sample()), "--wet-run")
    assert "Bilan :" in output
    assert "EJ créées : 4" in output and "ET créés : 5" in output

    purpan = Etablissement.objects.select_related("ej__region").get(finess=PURPAN)
    assert purpan.name == "CHU DE TOULOUSE - HÔPITAL PURPAN"  # rslongue, accents read as ISO-8859-1
    assert purpan.address == "1 PL DU DOCTEUR BAYLAC"
    assert (purpan.postcode, purpan.city, purpan.phone) == ("31059", "TOULOUSE CEDEX 9", "0561771111")
    assert purpan.ej.finess == CHU_TOULOUSE
    assert purpan.ej.region.code == "76" and purpan.ej.region.name == "Occitanie"
    assert Etablissement.objects.get(finess=RANGUEIL).address == "1 AV DU PROFESSEUR JEAN POULHÈS"
    assert Etablissement.objects.get(finess=CLINIQUE).address == "45 B AV DE LOMBEZ"
    assert Etablissement.objects.get(finess=CLINIQUE).name == "CLINIQUE PASTEUR"  # rs when no rslongue

    # The EJ takes the name and coordinates of its first ET in the file.
    chu = EntiteJuridique.objects.get(finess=CHU_TOULOUSE)
    assert chu.name == "CHU DE TOULOUSE - HÔPITAL PURPAN"
    assert (chu.address, chu.postcode, chu.city) == ("1 PL DU DOCTEUR BAYLAC", "31059", "TOULOUSE CEDEX 9")
    assert set(chu.etablissements.values_list("finess", flat=True)) == {PURPAN, RANGUEIL}

    ajaccio = Etablissement.objects.select_related("ej__region").get(finess=AJACCIO)
    assert ajaccio.ej.finess == AJACCIO_EJ
    assert ajaccio.ej.region.code == "94" and ajaccio.ej.region.agency_name == "ARS Corse"
    assert ajaccio.name == "CENTRE HOSPITALIER DE NOTRE-DAME DE LA MISÉRICORDE"
    guadeloupe = Etablissement.objects.select_related("ej__region").get(finess=CHU_GUADELOUPE)
    assert guadeloupe.ej.finess == CHU_GUADELOUPE_EJ
    assert guadeloupe.ej.region.name == "Guadeloupe" and guadeloupe.ej.region.code == "01"
    assert guadeloupe.address == "ROUTE DE CHAUVEL"  # the lieu-dit when there is no street
    assert (guadeloupe.postcode, guadeloupe.city) == ("97159", "POINTE A PITRE CEDEX")

    event = AuditEvent.objects.get()
    assert event.event_type == EventType.COMMAND_RUN
    assert event.data["operation"] == "import_finess" and event.data["source"] == "commande"
    assert (event.data["ej_created"], event.data["et_created"], event.data["regions_created"]) == (4, 5, 3)


def test_a_second_run_of_the_same_file_changes_nothing(extract):
    path = extract(sample())
    run(path, "--wet-run")
    before = list(Etablissement.objects.order_by("pk").values())
    output = run(path, "--wet-run")
    assert "Rien à créer ni à mettre à jour" in output
    assert "EJ créées : 0" in output and "ET mis à jour : 0" in output
    assert "EJ inchangées : 4" in output and "ET inchangés : 5" in output
    assert list(Etablissement.objects.order_by("pk").values()) == before
    assert EntiteJuridique.objects.count() == 4 and Region.objects.count() == 3


def test_an_existing_region_is_reused_by_its_code():
    RegionFactory(code="76", name="Occitanie", agency_name="ARS Occitanie", support_email="support@ars.fr")
    plan = finess_import.compute_plan(finess_import.parse_extract(sample()))
    assert [info.code for info in plan.regions_to_create] == ["01", "94"]
    finess_import.apply_import(finess_import.parse_extract(sample()))
    assert Region.objects.get(code="76").support_email == "support@ars.fr"
    assert Region.objects.count() == 3


def test_changes_of_name_and_address_are_applied_and_an_et_may_move(extract):
    run(extract(sample()), "--wet-run")
    lines = sample_lines()
    lines[1] = structureet(
        PURPAN,
        CHU_TOULOUSE,
        "HOPITAL PURPAN",
        rslongue="CHU TOULOUSE - HÔPITAL PURPAN (SITE PAUL DE VIGUIER)",
        numvoie="330",
        typvoie="AV",
        voie="DE GRANDE BRETAGNE",
        acheminement="31059 TOULOUSE CEDEX 9",
        telephone="0561771111",
    )
    # The clinic moves to the CHU.
    lines[3] = lines[3].replace(f";{CLINIQUE_EJ};", f";{CHU_TOULOUSE};")
    output = run(extract(encode(lines), name="v2.csv"), "--wet-run")
    assert "ET mis à jour : 2" in output and "dont ET changeant d'EJ : 1" in output
    assert (
        "raison sociale : « CHU DE TOULOUSE - HÔPITAL PURPAN » → "
        "« CHU TOULOUSE - HÔPITAL PURPAN (SITE PAUL DE VIGUIER) »"
    ) in output
    assert "adresse : « 1 PL DU DOCTEUR BAYLAC » → « 330 AV DE GRANDE BRETAGNE »" in output
    assert f"EJ : « {CLINIQUE_EJ} » → « {CHU_TOULOUSE} »" in output
    purpan = Etablissement.objects.get(finess=PURPAN)
    assert purpan.name == "CHU TOULOUSE - HÔPITAL PURPAN (SITE PAUL DE VIGUIER)"
    assert purpan.address == "330 AV DE GRANDE BRETAGNE"
    assert Etablissement.objects.get(finess=CLINIQUE).ej.finess == CHU_TOULOUSE
    # The EJ keeps its own name: an ET's new name never overwrites it.
    assert EntiteJuridique.objects.get(finess=CHU_TOULOUSE).name == "CHU DE TOULOUSE - HÔPITAL PURPAN"
    assert "Rien à créer ni à mettre à jour" in run(extract(encode(lines), name="v2.csv"), "--wet-run")


def test_an_existing_ej_keeps_its_name_and_follows_the_region_of_its_ets(extract, region, other_region):
    ej = EntiteJuridiqueFactory(finess=CHU_TOULOUSE, name="CHU DE TOULOUSE", region=other_region)
    output = run(extract(sample()), "--wet-run")
    assert "EJ mises à jour : 1" in output
    assert "région : « Auvergne-Rhône-Alpes » → « Occitanie »" in output
    ej.refresh_from_db()
    assert ej.name == "CHU DE TOULOUSE" and ej.region == region


def test_a_moving_et_still_covered_by_a_contract_of_its_former_ej_gets_a_warning(extract, region):
    old_ej = EntiteJuridiqueFactory(region=region)
    et = EtablissementFactory(finess=CLINIQUE, ej=old_ej)
    contract = ContractFactory(ej=old_ej)
    contract.etablissements.add(et)
    output = run(extract(sample()))
    assert f"reste couvert par le contrat « {contract.name} » de l'EJ {old_ej.finess}" in output


def test_an_ej_spread_over_several_regions_is_attached_to_its_first_ets_region(extract):
    lines = sample_lines()
    lines[4] = lines[4].replace(f";{AJACCIO_EJ};", f";{CHU_TOULOUSE};")
    output = run(extract(encode(lines)), "--wet-run")
    assert f"l'EJ {CHU_TOULOUSE} a des établissements dans plusieurs régions (Corse, Occitanie)" in output
    assert EntiteJuridique.objects.get(finess=CHU_TOULOUSE).region.name == "Occitanie"


def test_a_gzip_file_and_windows_line_ends_are_read_the_same(extract):
    content = sample().replace(b"\n", b"\r\n")
    run(extract(gzip.compress(content), name="finess.csv.gz"), "--wet-run")
    assert Etablissement.objects.get(finess=PURPAN).name == "CHU DE TOULOUSE - HÔPITAL PURPAN"
    assert Etablissement.objects.count() == 5


def test_writes_are_bulk_the_queries_do_not_grow_with_the_lines(django_assert_max_num_queries):
    lines = [COMMENT]
    for n in range(300):
        ej = finess(f"3100{n // 10:04d}")  # 30 EJ of 10 ET each
        lines.append(structureet(finess(f"3150{n:04d}"), ej, f"ETABLISSEMENT {n}"))
    parsed = finess_import.parse_extract(encode(lines))
    with django_assert_max_num_queries(25):
        finess_import.apply_import(parsed)
    assert Etablissement.objects.count() == 300 and EntiteJuridique.objects.count() == 30


def test_help_says_what_the_command_does():
    from contracts.management.commands.import_finess import Command

    text = " ".join(Command().create_parser("manage.py", "import_finess").format_help().split())
    assert "public FINESS extract" in text and "--wet-run" in text and "--details" in text


# --- Broken files: every bad line listed, nothing written --------------------------------------------


def _with_line(index: int, line: str) -> bytes:
    lines = sample_lines()
    lines[index] = line
    return encode(lines)


BROKEN = {
    "truncated in a structureet line": (
        encode(sample_lines()[:4] + [structureet(AJACCIO, AJACCIO_EJ, "CH D'AJACCIO")[:60]], newline=False),
        [r"ligne 5 : fichier tronqué : la dernière ligne n'a que \d+ champs sur 32"],
    ),
    "truncated in the geolocation lines": (
        encode(sample_lines()[:-1] + [geolocalisation(CHU_GUADELOUPE)[:30]], newline=False),
        [r"ligne 11 : fichier tronqué : la dernière ligne \(geolocalisation\) n'a que 3 champs, 6 comme la ligne 7"],
    ),
    "encoded in UTF-8": (
        "\n".join(sample_lines()).encode("utf-8"),
        [
            r"Le fichier est encodé en UTF-8, attendu ISO-8859-1",
            r"ligne 2 : texte encodé en UTF-8 \(« HÔPITAL »\), attendu ISO-8859-1",
            r"ligne 3 : texte encodé en UTF-8",
            r"ligne 4 : texte encodé en UTF-8",
        ],
    ),
    "a Windows-1252 apostrophe": (
        _with_line(3, structureet(CLINIQUE, CLINIQUE_EJ, "CLINIQUE L#UNION")).replace(b"#", b"\x92"),
        [r"ligne 4 : caractère de contrôle 0x92 au caractère \d+ : texte illisible en ISO-8859-1 \(fichier en Win"],
    ),
    "a NUL byte": (
        _with_line(2, structureet(RANGUEIL, CHU_TOULOUSE, "HOPITAL\x00RANGUEIL")),
        [r"ligne 3 : caractère de contrôle 0x00"],
    ),
    "a line with a missing field": (
        _with_line(2, structureet(RANGUEIL, CHU_TOULOUSE, "HOPITAL RANGUEIL").rsplit(";", 1)[0]),
        [r"ligne 3 : 31 champs au lieu de 32"],
    ),
    "a line with an extra field": (
        _with_line(2, structureet(RANGUEIL, CHU_TOULOUSE, "HOPITAL; RANGUEIL")),
        [r"ligne 3 : 33 champs au lieu de 32 \(un point-virgule dans un champ \?\)"],
    ),
    "an invalid ET FINESS": (
        _with_line(2, structureet("31000002", CHU_TOULOUSE, "HOPITAL RANGUEIL")),
        [r"ligne 3 : numéro FINESS nofinesset invalide \(« 31000002 »\)"],
    ),
    "an invalid EJ FINESS": (
        _with_line(3, structureet(CLINIQUE, "31A000010", "CLINIQUE PASTEUR")),
        [r"ligne 4 : numéro FINESS nofinessej invalide \(« 31A000010 »\)"],
    ),
    "an unknown department": (
        _with_line(5, structureet(CHU_GUADELOUPE, CHU_GUADELOUPE_EJ, "CHU", departement="9E")),
        [r"ligne 6 : département inconnu \(« 9E »\)"],
    ),
    "an ET listed twice with different EJ": (
        encode([*sample_lines(), structureet(PURPAN, CLINIQUE_EJ, "HOPITAL PURPAN")]),
        [rf"ligne 12 : l'ET {PURPAN} est déjà listé ligne 2 avec l'EJ {CHU_TOULOUSE}, ici avec l'EJ {CLINIQUE_EJ}"],
    ),
    "tab-separated": (
        encode([line.replace(";", "\t") for line in sample_lines()]),
        [r"ligne 1 : champs séparés par des tabulations", r"ligne 11 : champs séparés par des tabulations"],
    ),
    "not a FINESS extract": (
        encode(["nofinesset;nofinessej;rs", "310000002;310781406;HOPITAL"]),
        [r"ligne 2 : type d'enregistrement inconnu \(« 310000002 »\) : attendu structureet"],
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_file_lists_its_bad_lines_and_writes_nothing(name, extract, region):
    content, expected = BROKEN[name]
    EntiteJuridiqueFactory(region=region)
    before = database_state()
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"Import refusé : .* rien n'a été écrit"):
        call_command("import_finess", str(extract(content)), "--wet-run", stdout=out, stderr=io.StringIO())
    output = out.getvalue()
    assert "est refusé ; rien n'a été écrit" in output
    for pattern in expected:
        assert re.search(pattern, output), f"{pattern!r} not in:\n{output}"
    assert database_state() == before


def test_every_bad_line_is_listed_not_only_the_first(extract):
    lines = sample_lines()
    lines[1] = structureet("123", CHU_TOULOUSE, "A")
    lines[3] = structureet(CLINIQUE, CLINIQUE_EJ, "B", departement="99")
    lines[5] = lines[5].rsplit(";", 3)[0]
    content = encode(lines)
    with pytest.raises(finess_import.FinessImportRefused) as refused:
        finess_import.parse_extract(content)
    assert [error.line for error in refused.value.errors] == [2, 4, 6]
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 ligne"):
        call_command("import_finess", str(extract(content)), stdout=out)
    assert "ligne 2 :" in out.getvalue() and "ligne 4 :" in out.getvalue() and "ligne 6 :" in out.getvalue()
    assert database_state() == (0, 0, 0, 0)


def test_a_region_homonym_with_another_code_refuses_the_import(extract):
    RegionFactory(code="999", name="Occitanie")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Import refusé"):
        call_command("import_finess", str(extract(sample())), "--wet-run", stdout=out)
    assert "La région « Occitanie » existe avec le code 999 au lieu du code officiel 76" in out.getvalue()
    assert EntiteJuridique.objects.count() == 0 and Region.objects.count() == 1


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Fichier introuvable"):
        run(tmp_path / "absent.csv")


def test_an_empty_file_is_refused(extract):
    with pytest.raises(CommandError, match="Import refusé"):
        run(extract(b""))


def test_a_zip_archive_is_refused_with_advice(extract):
    out = io.StringIO()
    with pytest.raises(CommandError, match="Import refusé"):
        call_command("import_finess", str(extract(b"PK\x03\x04rest")), stdout=out)
    assert "Archive ZIP : décompressez-la" in out.getvalue()


def test_the_plan_digest_refuses_a_database_changed_since_the_preview():
    parsed = finess_import.parse_extract(sample())
    previewed = finess_import.compute_plan(parsed)
    EntiteJuridiqueFactory(finess=CHU_TOULOUSE, region=RegionFactory(code="76", name="Occitanie"))
    with pytest.raises(finess_import.PlanChanged):
        finess_import.apply_import(parsed, expected_digest=previewed.digest)
    assert Etablissement.objects.count() == 0
