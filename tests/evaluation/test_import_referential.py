"""`manage.py import_referential FILE` and the admin's « Importer un référentiel » (issue 13): a referential tree
from an XLSX or CSV file, checked as a whole, every error listed with its row, nothing written on any error."""

import base64
import hashlib
import io
import re
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from evaluation.admin_pages.referential_import import SESSION_KEY
from evaluation.enums import AnswerLevel, FilledBy, ValueType
from evaluation.models import Node, Referential
from evaluation.services import create_self_evaluation
from evaluation.tree import build_tree
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, ContractTypeFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory


# A copy, byte for byte, of ../shared/data/caqes_indicators.csv (the real national CAQES indicators).
CAQES_CSV = Path(__file__).parent / "data" / "caqes_indicators.csv"
CAQES_ROWS = 23  # data rows of the file

IMPORT_URL = reverse("admin:evaluation_referential_import")
CONFIRM_URL = reverse("admin:evaluation_referential_import_confirm")


@pytest.fixture
def caqes():
    return ContractTypeFactory(code="CAQES")


def run(path, *args, wet_run=True, **options):
    """The command's output; a CommandError propagates (manage.py's non-zero exit)."""
    out = io.StringIO()
    call_command("import_referential", str(path), *args, *(["--wet-run"] if wet_run else []), stdout=out, **options)
    return out.getvalue()


def write(tmp_path, content: bytes, name="referentiel.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def counts():
    imports = AuditEvent.objects.filter(event_type=EventType.COMMAND_RUN, data__operation="import_referential")
    return Referential.objects.count(), Node.objects.count(), imports.count()


def node(code, referential=None):
    nodes = Node.objects.select_related("parent").filter(code=code)
    return nodes.get(referential=referential) if referential else nodes.get()


# --- The shared national CAQES file ----------------------------------------------------------------------------


def test_the_shared_caqes_csv_imports_as_is(caqes):
    output = run(CAQES_CSV, "--contract-type", "CAQES", "--name", "CAQES national")

    referential = Referential.objects.get()
    assert (referential.name, referential.version, referential.contract_type) == ("CAQES national", 1, caqes)
    assert referential.nodes.count() == CAQES_ROWS
    assert referential.nodes.indicators().count() == 17
    roots = referential.nodes.filter(parent=None).order_by("position")
    assert [root.code for root in roots] == ["CAQES22", "REF2018", "BIOSIM"]
    assert node("CAQES22-IPP").parent.code == "CAQES22-V-PS"
    rate = node("REF2018-TRANSP-EVOL")
    assert (rate.value_type, rate.default_target, rate.parent.code) == (ValueType.TAUX, "2,2 %", "REF2018")
    assert (rate.filled_by, rate.answer_level, rate.required, rate.region) == (
        FilledBy.ETABLISSEMENT,
        AnswerLevel.EJ,
        True,
        None,
    )
    # File order is the tree's order.
    assert list(referential.nodes.order_by("position").values_list("code", flat=True)[:3]) == [
        "CAQES22",
        "CAQES22-V-PS",
        "CAQES22-V-OS",
    ]
    assert "Colonnes ignorées : level, source." in output
    assert "Racines :\n  CAQES22 - CAQES 2e génération" in output
    assert "  niveau 1 : 3\n  niveau 2 : 14\n  niveau 3 : 6\n" in output
    assert "  taux (%) : 11\n  nombre : 6\n" in output
    assert "Référentiel « CAQES national » (CAQES) version 1 créé." in output
    assert "nœuds créés : 23" in output
    event = AuditEvent.objects.get(event_type=EventType.COMMAND_RUN)
    assert (event.object_id, event.data["operation"], event.data["nodes"]) == (
        str(referential.pk),
        "import_referential",
        23,
    )


def test_an_indicator_under_an_indicator_is_attached_to_the_nearest_objective(caqes):
    """« REF2018-PHMEV-MED » is a child of the indicator « REF2018-PHMEV-GLOBAL » in the file; an indicator has no
    children in e-CARS, so it becomes its neighbour under « REF2018 », right after it, and the report says so."""
    output = run(CAQES_CSV, "--contract-type", "CAQES")
    assert node("REF2018-PHMEV-MED").parent.code == "REF2018"
    assert node("REF2018-PHMEV-LPP").parent.code == "REF2018"
    assert node("REF2018-PHMEV-GLOBAL").position + 1 == node("REF2018-PHMEV-MED").position
    assert (
        "ligne 16 : « REF2018-PHMEV-MED » est rattaché à « REF2018 », car son parent « REF2018-PHMEV-GLOBAL » est un "
        "indicateur"
    ) in output


def test_the_imported_tree_is_answered_and_shown(caqes, client_for, ej):
    run(CAQES_CSV, "--contract-type", "CAQES")
    campaign = CampaignFactory(contract_type=caqes, referential=Referential.objects.get())
    contract = ContractFactory(contract_type=caqes, ej=ej)
    self_evaluation = create_self_evaluation(contract=contract, campaign=campaign)
    assert self_evaluation.values.count() == 17

    tree = build_tree(self_evaluation)
    assert [branch.node.code for branch in tree.roots] == ["CAQES22", "REF2018", "BIOSIM"]
    ref2018 = tree.roots[1]
    assert [question.node.code for question in ref2018.questions] == [
        "REF2018-TRANSP-EVOL",
        "REF2018-TRANSP-MONT",
        "REF2018-PHMEV-GLOBAL",
        "REF2018-PHMEV-MED",
        "REF2018-PHMEV-LPP",
        "REF2018-LES-MED",
        "REF2018-LES-DM",
        "REF2018-GENERIQUES",
    ]
    assert [child.node.code for child in tree.roots[0].children] == ["CAQES22-V-PS", "CAQES22-V-OS", "CAQES22-V-3"]
    assert tree.total == 17

    member = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    client = client_for(member)
    page = client.get(reverse("evaluation:indicators", args=[self_evaluation.public_id]))
    assertContains(page, "REF2018-PHMEV-MED - Taux d&#x27;évolution des dépenses de médicaments")
    question = client.get(reverse("evaluation:question", args=[self_evaluation.public_id, "REF2018-PHMEV-MED"]))
    assert question.status_code == 200
    assertContains(question, "3,2 %")


# --- XLSX --------------------------------------------------------------------------------------------------------


def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_ROWS = [
    [
        "Code",
        "Parent",
        "Libellé",
        "Type",
        "Unité",
        "Choix",
        "Cible",
        "Renseigné par",
        "Évalué par",
        "Obligatoire",
        "Aide",
        "Niveau",
        "Commentaire interne",
    ],
    ["1", None, "Objectif 1 : bon usage", None, None, None, None, None, None, None, None, None, "à relire"],
    ["1.1", "1", "Sous-objectif", None, None, None, None, None, None, None, None, None, None],
    [
        "1.1.a",
        "1.1",
        "Niveau de certification",
        "liste de choix",
        None,
        "Niveau 1 | Niveau 2|Niveau 3",
        "Niveau 2",
        "établissement",
        "ARS, AM",
        "oui",
        "Voir le guide",
        "ET",
        None,
    ],
    [
        "1.1.b",
        "1.1",
        "Plan d'actions transmis",
        "Oui/Non",
        None,
        None,
        "oui",
        "ARS",
        "omedit",
        "non",
        None,
        "EJ",
        None,
    ],
    ["1.1.c", "1.1", "Patients inclus", "nombre", "patients", None, 12, "AM", None, False, None, None, None],
    [
        "1.1.d",
        "1.1",
        "Date de la revue",
        "date",
        None,
        None,
        "31/12/2026",
        None,
        "ARS et OMEDIT",
        None,
        None,
        None,
        None,
    ],
]


def test_an_xlsx_workbook_imports(tmp_path, caqes):
    path = write(tmp_path, xlsx(XLSX_ROWS), "Référentiel régional.xlsx")
    output = run(path, "--contract-type", "caqes")

    referential = Referential.objects.get()
    assert referential.name == "Référentiel régional"
    assert referential.nodes.count() == 6
    choice = node("1.1.a")
    assert choice.parent.code == "1.1"
    assert (choice.value_type, choice.choices, choice.default_target) == (
        ValueType.LISTE,
        ["Niveau 1", "Niveau 2", "Niveau 3"],
        "Niveau 2",
    )
    assert choice.evaluating_bodies == ("ars", "am")
    assert (choice.answer_level, choice.required, choice.help_text) == (AnswerLevel.ET, True, "Voir le guide")
    yes_no = node("1.1.b")
    assert (yes_no.value_type, yes_no.default_target, yes_no.filled_by, yes_no.required) == (
        ValueType.OUI_NON,
        "1",
        FilledBy.ARS,
        False,
    )
    assert yes_no.evaluating_bodies == ("omedit",)
    number = node("1.1.c")
    assert (number.unit, number.default_target, number.filled_by, number.required) == ("patients", "12", "am", False)
    assert node("1.1.d").default_target == "2026-12-31"
    assert node("1.1.d").evaluating_bodies == ("ars", "omedit")
    assert "Fichier XLSX" in output
    assert "Colonnes ignorées : Commentaire interne." in output


def test_the_same_tree_in_csv_or_xlsx_is_the_same_referential(tmp_path, caqes):
    csv_text = "code;parent;libellé;type;cible\r\n1;;Objectif;;\r\n1.a;1;Question;taux;80\r\n"
    run(write(tmp_path, ("\ufeff" + csv_text).encode(), "ref.csv"), "--contract-type", "CAQES")
    rows = [line.split(";") for line in csv_text.split("\r\n") if line]
    output = run(write(tmp_path, xlsx(rows), "ref.xlsx"), "--contract-type", "CAQES")
    assert "Rien à faire" in output
    assert Referential.objects.count() == 1


# --- Dry run, second run, new version --------------------------------------------------------------------------


def test_the_dry_run_writes_nothing_and_says_what_it_would_create(caqes):
    output = run(CAQES_CSV, "--contract-type", "CAQES", wet_run=False)
    assert counts() == (0, 0, 0)
    assert "Simulation (--wet-run pour écrire)" in output
    assert "Le référentiel « caqes_indicators » (CAQES) version 1 serait créé." in output
    assert "Bilan de la simulation (rien n'a été écrit) :\n  référentiels à créer : 1\n  nœuds à créer : 23" in output
    assert "Racines :" in output


def test_a_second_import_creates_nothing_and_says_so(caqes):
    run(CAQES_CSV, "--contract-type", "CAQES")
    before = counts()
    output = run(CAQES_CSV, "--contract-type", "CAQES")
    assert counts() == before
    assert (
        "Rien à faire : le référentiel « caqes_indicators » (CAQES) version 1 a déjà exactement ce contenu." in output
    )
    assert "référentiels créés : 0\n  nœuds créés : 0" in output


def test_a_changed_file_makes_the_next_version_and_leaves_the_first_alone(tmp_path, caqes):
    run(CAQES_CSV, "--contract-type", "CAQES")
    changed = CAQES_CSV.read_bytes().replace(b'"2,2 %"', b'"2,0 %"')
    output = run(write(tmp_path, changed, "caqes_indicators.csv"), "--contract-type", "CAQES")
    assert "version 2 créé" in output
    first, second = Referential.objects.order_by("version")
    assert (first.version, second.version) == (1, 2)
    assert node("REF2018-TRANSP-EVOL", first).default_target == "2,2 %"
    assert node("REF2018-TRANSP-EVOL", second).default_target == "2,0 %"
    # Another name is another referential.
    run(CAQES_CSV, "--contract-type", "CAQES", "--name", "Autre")
    assert Referential.objects.get(name="Autre").version == 1


# --- Broken files: a clear report, with rows, and nothing written -----------------------------------------------

HEADER = "code,parent,libellé,type,choix\n"


def _latin1_caqes():
    return CAQES_CSV.read_text(encoding="utf-8").encode("latin-1", errors="replace")


def _cut_inside_quotes():
    content = CAQES_CSV.read_bytes()
    return content[: content.index(b'"2,2 %"') + 2]


def _cut_mid_row():
    lines = CAQES_CSV.read_bytes().split(b"\n")
    return b"\n".join([*lines[:12], lines[12][:40]])


BROKEN = {
    "cycle": (
        HEADER + "A,C,Objectif A,,\nB,A,Objectif B,,\nC,B,Objectif C,,\nD,,Racine,,\n",
        ["lignes 2, 3, 4 : cycle A → C → B → A"],
    ),
    "own parent": (HEADER + "A,A,Objectif,,\n", ["ligne 2 : « A » est son propre parent."]),
    "unknown parent": (
        HEADER + "A,,Objectif,,\nA.1,ZZZ,Question,oui_non,\n",
        ["ligne 3 : parent « ZZZ » inconnu (aucune ligne n'a ce code)."],
    ),
    "duplicate code": (
        HEADER + "A,,Objectif,,\nA.1,A,Question,oui_non,\nA.1,A,Autre question,taux,\n",
        ["ligne 4 : code « A.1 » en double (déjà ligne 3)."],
    ),
    "unknown value type": (
        HEADER + "A,,Objectif,,\nA.1,A,Question,pourcentage-ish,\n",
        ["ligne 3 : « A.1 » : type de valeur « pourcentage-ish » inconnu"],
    ),
    "list without choices": (
        HEADER + "A,,Objectif,,\nA.1,A,Niveau atteint,liste,\n",
        ["ligne 3 : « A.1 » : une liste de choix sans choix"],
    ),
    "missing code": (HEADER + "A,,Objectif,,\n,A,Question,oui_non,\n", ["ligne 3 : code manquant."]),
    "missing column": ("code,parent,type\nA,,\n", ["ligne 1 : colonne « libellé » manquante"]),
    "undecodable (ISO-8859-1)": (_latin1_caqes(), ["ligne 2 : texte illisible en UTF-8 (octet 0xE9)", "CSV UTF-8"]),
    "truncated inside quotes": (
        _cut_inside_quotes(),
        ["ligne 13 : guillemets mal placés ou non refermés (fichier tronqué ?)"],
    ),
    "truncated mid-row": (_cut_mid_row(), ["ligne 13 : 4 champs au lieu de 8 comme l'en-tête"]),
    "empty": (b"", ["Fichier : le fichier est vide."]),
    "blank lines only": (b"\xef\xbb\xbf\r\n\r\n", ["Fichier : le fichier est vide."]),
    "header only": (HEADER, ["Fichier : aucune ligne sous l'en-tête : le référentiel serait vide."]),
}


@pytest.mark.parametrize("case", BROKEN, ids=str)
def test_a_broken_file_is_reported_with_its_rows_and_writes_nothing(tmp_path, caqes, case):
    content, expected = BROKEN[case]
    run(CAQES_CSV, "--contract-type", "CAQES", "--name", "Référentiel")  # there is something not to touch
    before = counts()
    path = write(tmp_path, content.encode() if isinstance(content, str) else content)
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"Référentiel non importé : \d+ erreur\(s\), rien n'a été écrit\."):
        call_command(
            "import_referential",
            str(path),
            "--contract-type",
            "CAQES",
            "--name",
            "Référentiel",
            "--wet-run",
            stdout=out,
        )
    assert counts() == before
    for message in expected:
        assert message in out.getvalue()


def test_a_truncated_xlsx_is_reported_and_writes_nothing(tmp_path, caqes):
    content = xlsx(XLSX_ROWS)
    path = write(tmp_path, content[: len(content) // 2], "referentiel.xlsx")
    out = io.StringIO()
    with pytest.raises(CommandError, match="rien n'a été écrit"):
        call_command("import_referential", str(path), "--contract-type", "CAQES", "--wet-run", stdout=out)
    assert "Fichier : classeur XLSX illisible (fichier tronqué, endommagé ou d'un autre format)" in out.getvalue()
    assert counts() == (0, 0, 0)


def test_every_error_of_a_file_is_listed_in_row_order(tmp_path, caqes):
    csv_text = (
        "code;parent;libellé;type;unité;choix;cible;renseigné par;évalué par;obligatoire;niveau\n"
        "1;;Objectif;;;;;;;;\n"
        f"{'X' * 51};1;Code trop long;oui_non;;;;;;;\n"
        "1.b;1;Qui ?;oui_non;;;;le voisin;;;\n"
        "1.c;1;Par qui ?;oui_non;;;;;ARS, CPAM;;\n"
        "1.d;1;Obligatoire ?;oui_non;;;;;;peut-être;\n"
        "1.e;1;Niveau ?;oui_non;;;;;;;région\n"
        f"1.f;1;Unité trop longue;nombre;{'u' * 31};;;;;;\n"
        "1.g;1;Cible hors liste;liste;;A|B;C;;;;\n"
        "1.h;1;Groupe avec cible;;;;80;;;;\n"
        "1.i;;;taux;;;;;;;\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="9 erreur"):
        call_command(
            "import_referential", str(write(tmp_path, csv_text.encode())), "--contract-type", "CAQES", stdout=out
        )
    text = out.getvalue()
    for message in (
        "ligne 3 : « XXXXX",
        "code trop long (51 caractères, 50 au plus)",
        "ligne 4 : « 1.b » : « renseigné par » « le voisin » inconnu (établissement, ARS, AM ou OMEDIT).",
        "ligne 5 : « 1.c » : « évalué par » « ARS, CPAM » : instance inconnue (cpam)",
        "ligne 6 : « 1.d » : « obligatoire » vaut « peut-être » : oui ou non attendu.",
        "ligne 7 : « 1.e » : niveau de réponse « région » inconnu (EJ ou ET).",
        "ligne 8 : « 1.f » : unité trop longue (31 caractères, 30 au plus).",
        "ligne 9 : « 1.g » : cible « C » absente des choix (A | B).",
        "ligne 10 : « 1.h » : sans type de valeur (un regroupement), mais avec une cible : indiquez son type.",
        "ligne 11 : « 1.i » : libellé manquant.",
    ):
        assert message in text
    rows = [int(match) for match in re.findall(r"^  lignes? (\d+)", text, flags=re.MULTILINE)]
    assert rows == sorted(rows)
    assert counts() == (0, 0, 0)


def test_an_unknown_contract_type_or_a_missing_file_is_a_clear_failure(tmp_path, caqes):
    with pytest.raises(CommandError, match="Type de contrat « CPOM » inconnu. Types existants : CAQES."):
        run(CAQES_CSV, "--contract-type", "CPOM")
    with pytest.raises(CommandError, match="illisible"):
        run(tmp_path / "absent.csv", "--contract-type", "CAQES")
    assert counts() == (0, 0, 0)


def test_regional_nodes_name_their_region(tmp_path, caqes, region):
    csv_text = (
        "code,parent,libellé,type,national_or_regional,région\n"
        "1,,Objectif national,,national,\n"
        "1.a,1,Question régionale,oui_non,régional,Occitanie\n"
        "1.b,1,Question régionale par code,oui_non,,76\n"
        "1.c,1,Régionale sans région,oui_non,regional,\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_referential", str(write(tmp_path, csv_text.encode())), "--contract-type", "CAQES", stdout=out
        )
    assert "ligne 5 : « 1.c » : régional, mais sans région" in out.getvalue()
    run(write(tmp_path, csv_text.rsplit("1.c", 1)[0].encode()), "--contract-type", "CAQES")
    assert node("1.a").region == region
    assert node("1.b").region == region
    assert node("1").region is None


# --- The admin: upload, preview, confirm -----------------------------------------------------------------------


@pytest.fixture
def national_admin():
    return UserFactory(national_admin=True)


def upload(client, content: bytes, contract_type, name="", filename="caqes_indicators.csv"):
    return client.post(
        IMPORT_URL,
        {"file": SimpleUploadedFile(filename, content), "contract_type": contract_type.pk, "name": name},
    )


def test_a_national_admin_uploads_previews_and_confirms(client_for, national_admin, caqes):
    client = client_for(national_admin)
    changelist = client.get(reverse("admin:evaluation_referential_changelist"))
    assertContains(changelist, f'<a href="{IMPORT_URL}" class="addlink">Importer un référentiel</a>', html=True)
    form = client.get(IMPORT_URL)
    assertContains(form, '<label for="id_file">Fichier du référentiel\xa0:</label>', html=True)

    preview = upload(client, CAQES_CSV.read_bytes(), caqes, name="CAQES national")
    assert preview.status_code == 200
    assertContains(preview, '<th scope="row">Nœuds</th><td>23, dont 17 indicateurs</td>', html=True)
    assertContains(preview, "<caption>Arbre du référentiel, dans l'ordre (3 racines)</caption>")
    assertContains(preview, "REF2018-PHMEV-MED")
    assertContains(preview, "est rattaché à « REF2018 »")
    assertContains(preview, '<input type="submit" class="default" value="Confirmer l\'import">', html=True)
    assert counts() == (0, 0, 0)  # a preview writes nothing
    sha256 = hashlib.sha256(CAQES_CSV.read_bytes()).hexdigest()
    assert preview.context["confirm_form"].initial["sha256"] == sha256

    confirmed = client.post(CONFIRM_URL, {"sha256": sha256}, follow=True)
    referential = Referential.objects.get()
    assert confirmed.redirect_chain[-1][0] == reverse("admin:evaluation_referential_change", args=[referential.pk])
    assertContains(
        confirmed, "Référentiel « CAQES national » (CAQES) version 1 importé : 23 nœuds, dont 17 indicateurs."
    )
    assert referential.nodes.count() == CAQES_ROWS
    event = AuditEvent.objects.get(event_type=EventType.COMMAND_RUN)
    assert (event.actor, event.data["file_sha256"]) == (national_admin, sha256)
    assert SESSION_KEY not in client.session

    # The same file again: the preview says it would create nothing and offers no confirmation.
    again = upload(client, CAQES_CSV.read_bytes(), caqes, name="CAQES national")
    assertContains(again, "La version 1 du référentiel « CAQES national » a déjà exactement ce contenu")
    assertNotContains(again, "Confirmer l&#x27;import")
    assert client.post(CONFIRM_URL, {"sha256": sha256}).status_code == 302
    assert counts() == (1, CAQES_ROWS, 1)


def test_the_admin_imports_an_xlsx_named_after_the_file(client_for, national_admin, caqes):
    client = client_for(national_admin)
    content = xlsx(XLSX_ROWS)
    upload(client, content, caqes, filename="Référentiel 2026.xlsx")
    client.post(CONFIRM_URL, {"sha256": hashlib.sha256(content).hexdigest()})
    assert Referential.objects.get().name == "Référentiel 2026"
    assert node("1.1.a").choices == ["Niveau 1", "Niveau 2", "Niveau 3"]


def test_a_broken_upload_lists_its_errors_with_rows_and_stores_nothing(client_for, national_admin, caqes):
    client = client_for(national_admin)
    content, _ = BROKEN["cycle"]
    response = upload(client, content.encode(), caqes)
    assert response.status_code == 400
    assertContains(
        response,
        '<a href="#id_file">Fichier du référentiel : Le fichier contient 1 erreur(s), listées ci-dessous avec leur '
        "ligne : rien n'a été importé. Corrigez-le puis déposez-le à nouveau.</a>",
        html=True,
        status_code=400,
    )
    assertContains(response, "<caption>Erreurs du fichier (1) : rien n'a été importé</caption>", status_code=400)
    assertContains(
        response,
        '<tr><th scope="row">lignes 2, 3, 4</th><td>cycle A → C → B → A : un nœud ne peut pas descendre de lui-même.'
        "</td></tr>",
        html=True,
        status_code=400,
    )
    assertContains(response, 'aria-describedby="id_file_error id_file_helptext"', status_code=400)
    assert SESSION_KEY not in client.session
    assert counts() == (0, 0, 0)

    missing = client.post(IMPORT_URL, {"contract_type": caqes.pk})
    assertContains(missing, "Choisissez le fichier du référentiel.", status_code=400)


def test_only_the_previewed_bytes_are_imported(client_for, national_admin, caqes):
    """Preview A, then B in another tab, then confirm A: refused, nothing written (B waits for its own confirm)."""
    client = client_for(national_admin)
    first = CAQES_CSV.read_bytes()
    upload(client, first, caqes)
    other = first.replace(b'"2,2 %"', b'"2,0 %"')
    upload(client, other, caqes)
    refused = client.post(CONFIRM_URL, {"sha256": hashlib.sha256(first).hexdigest()}, follow=True)
    assertContains(refused, "Cet aperçu n&#x27;est plus celui du fichier en attente")
    assert counts() == (0, 0, 0)

    # Bytes changed in the session behind the hash are refused too.
    session = client.session
    session[SESSION_KEY]["content"] = base64.b64encode(first).decode()
    session.save()
    client.post(CONFIRM_URL, {"sha256": hashlib.sha256(other).hexdigest()})
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("role", ["ars_staff", "am_staff", "omedit_staff"])
def test_only_national_admins_may_import(client_for, region, caqes, role):
    client = client_for(UserFactory(region=region, **{role: True}))
    changelist = client.get(reverse("admin:evaluation_referential_changelist"))
    assert changelist.status_code == 200
    assertNotContains(changelist, "Importer un référentiel")
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, CAQES_CSV.read_bytes(), caqes).status_code == 403
    session = client.session
    content = CAQES_CSV.read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    session[SESSION_KEY] = {
        "sha256": sha256,
        "content": base64.b64encode(content).decode(),
        "filename": "caqes_indicators.csv",
        "contract_type": caqes.pk,
        "name": "Pirate",
    }
    session.save()
    assert client.post(CONFIRM_URL, {"sha256": sha256}).status_code == 403
    assert counts() == (0, 0, 0)
