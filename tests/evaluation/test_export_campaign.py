"""`manage.py export_campaign` and the actions « Exporter (CSV) » / « Exporter (Excel) » of the campaigns' admin
(issue 13): one row per answer, decisions and documents count, never a private note, never a formula."""

import csv
import datetime
import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from evaluation import exports
from evaluation.enums import AnswerLevel, EvaluatingBody, SelfEvaluationState, Verdict
from evaluation.models import Consolidation, Decision
from tests.accounts.factories import UserFactory
from tests.contracts.factories import (
    ContractFactory,
    ContractTypeFactory,
    EntiteJuridiqueFactory,
    EtablissementFactory,
    RegionFactory,
    _luhn_key,
)
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import (
    AttachmentFactory,
    CampaignFactory,
    IndicatorValueFactory,
    NodeFactory,
    ReferentialFactory,
    SelfEvaluationFactory,
)


PRIVATE = "MARQUEUR-NOTE-PRIVEE-51c2"
FORMULAS = {
    "=": '=HYPERLINK("http://x","clic")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}
HEADERS = [
    "Région",
    "Département",
    "FINESS EJ",
    "Entité juridique",
    "Contrat",
    "FINESS ET",
    "Établissement",
    "Etat en cours",
    "Clôturée le",
    "Code",
    "Question",
    "Type de réponse",
    "Cible",
    "Réalisé",
    "Non concerné",
    "Justification",
    "Commentaire évalué 2025",
    "Documents joints",
    "Décision ARS",
    "Motivation ARS",
    "Décision Assurance Maladie",
    "Motivation Assurance Maladie",
    "Décision OMEDIT",
    "Motivation OMEDIT",
    "Décision consolidée",
    "Motivation consolidée",
]
COLUMN = {title: index for index, title in enumerate(HEADERS)}


def finess(prefix: str, n: int) -> str:
    digits = f"{prefix}{n:0{8 - len(prefix)}d}"
    return digits + _luhn_key(digits)


class World:
    """Campaign « caqes-2025 » (evaluated year 2025) in Occitanie (76) and La Réunion (04): a referential with a
    question of every type (the list answered per ET); in Occitanie, EJ 1 (two ET, closed, « En évaluation »,
    decided by the three bodies and consolidated, documents attached) and EJ 2 (`extra` more contracts: the
    query count); in La Réunion, an EJ whose département reads from its FINESS (974)."""

    def __init__(self, region, other_region, *, extra: int = 0):
        self.region, self.other_region = region, other_region
        contract_type = ContractTypeFactory()
        referential = ReferentialFactory(contract_type=contract_type)
        self.campaign = CampaignFactory(
            code="caqes-2025",
            name="CAQES 2025",
            year=2025,
            contract_type=contract_type,
            referential=referential,
            regions=[region, other_region],
        )
        objective = NodeFactory(referential=referential, code="1", label="Objectif", position=0)

        def question(code, position, **kwargs):
            return NodeFactory(referential=referential, parent=objective, code=code, position=position, **kwargs)

        self.nodes = {
            "1.1": question("1.1", 1, label="Livret du médicament", oui_non=True, evaluated_by_am=True),
            "1.2": question("1.2", 2, label="Taux de prescription", taux=True, evaluated_by_omedit=True),
            "1.3": question("1.3", 3, label="Patients", nombre=True, unit="patients", default_target="≥ 100"),
            "1.4": question("1.4", 4, label="Commentaire libre", texte=True),
            "1.5": question("1.5", 5, label="Date du plan", value_type="date", default_target="2025-06-30"),
            "1.6": question("1.6", 6, label="Informatisation", liste=True, answer_level=AnswerLevel.ET),
        }
        self.ars = UserFactory(ars_staff=True, region=region)
        self.am = UserFactory(am_staff=True, region=region)
        self.omedit = UserFactory(omedit_staff=True, region=region)

        self.ej = EntiteJuridiqueFactory(region=region, finess=finess("31", 1), name="CHU DE TOULOUSE")
        self.ets = [
            EtablissementFactory(ej=self.ej, finess=finess("31", 11), name="HOPITAL PURPAN"),
            EtablissementFactory(ej=self.ej, finess=finess("31", 12), name="HOPITAL RANGUEIL"),
        ]
        self.contract = ContractFactory(ej=self.ej, contract_type=contract_type, name="CAQES CHU")
        # 23:30 UTC on 2 March: 3 March in Paris, the day the export says.
        self.closed_at = datetime.datetime(2026, 3, 2, 23, 30, tzinfo=datetime.UTC)
        self.self_evaluation = SelfEvaluationFactory(
            contract=self.contract,
            campaign=self.campaign,
            state=SelfEvaluationState.EN_EVALUATION,
            closed_at=self.closed_at,
        )
        answers = {
            "1.1": {"value": "1", "target": "1"},
            "1.2": {"value": "85.5", "target": "80", "comment": FORMULAS["="]},
            "1.3": {"value": "-3.5", "target": "≥ 100", "comment": FORMULAS["+"]},
            "1.4": {"value": "-3.5", "comment": FORMULAS["-"]},
            "1.5": {"value": "2025-05-04", "target": "2025-06-30", "comment": FORMULAS["@"]},
        }
        self.values = {
            code: IndicatorValueFactory(self_evaluation=self.self_evaluation, indicator=self.nodes[code], **fields)
            for code, fields in answers.items()
        }
        self.values["1.6", self.ets[0].finess] = IndicatorValueFactory(
            self_evaluation=self.self_evaluation,
            indicator=self.nodes["1.6"],
            etablissement=self.ets[0],
            value="Complète",
            comment=FORMULAS["\t"],
        )
        self.values["1.6", self.ets[1].finess] = IndicatorValueFactory(
            self_evaluation=self.self_evaluation,
            indicator=self.nodes["1.6"],
            etablissement=self.ets[1],
            not_applicable=True,
            not_applicable_reason=FORMULAS["\r"],
        )
        # Two documents listed under 1.1, a third withdrawn: 2 counted.
        for withdrawn in (False, False, True):
            document = DocumentFactory(ej=self.ej)
            AttachmentFactory(
                document=document,
                indicator_value=self.values["1.1"],
                withdrawn_at=timezone.now() if withdrawn else None,
                withdrawn_by=document.uploaded_by if withdrawn else None,
            )
        self.decide("1.1", EvaluatingBody.ARS, Verdict.ATTEINT)
        self.decide("1.1", EvaluatingBody.AM, Verdict.PARTIELLEMENT_ATTEINT, "Livret incomplet.")
        self.decide("1.2", EvaluatingBody.OMEDIT, Verdict.NON_ATTEINT, "=1+1 motivation OMEDIT")
        Consolidation.objects.create(
            value=self.values["1.1"],
            verdict=Verdict.PARTIELLEMENT_ATTEINT,
            motivation="Livret à compléter.",
            private_note=PRIVATE,
            decided_by=self.ars,
            decided_at=timezone.now(),
        )

        self.other_ejs = []
        for n in range(1 + extra):
            other = EntiteJuridiqueFactory(region=region, finess=finess("34", 100 + n), name=f"CLINIQUE {n}")
            self.other_ejs.append(other)
            self.answer_everything(ContractFactory(ej=other, contract_type=contract_type, name=f"CAQES {n}"))

        self.overseas_ej = EntiteJuridiqueFactory(region=other_region, finess=finess("9704", 1), name="CHU REUNION")
        self.answer_everything(ContractFactory(ej=self.overseas_ej, contract_type=contract_type, name="CAQES 974"))

    def decide(self, code, body, verdict, motivation=""):
        by = {EvaluatingBody.ARS: self.ars, EvaluatingBody.AM: self.am, EvaluatingBody.OMEDIT: self.omedit}[body]
        Decision.objects.create(
            value=self.values[code],
            body=body,
            verdict=verdict,
            motivation=motivation,
            private_note=PRIVATE,
            decided_by=by,
            decided_at=timezone.now(),
        )

    def answer_everything(self, contract):
        """An open self-evaluation of `contract`, every EJ-level question answered « oui » or empty, decided."""
        self_evaluation = SelfEvaluationFactory(contract=contract, campaign=self.campaign)
        for code, node in self.nodes.items():
            if code == "1.6":
                continue
            value = IndicatorValueFactory(self_evaluation=self_evaluation, indicator=node)
            Decision.objects.create(
                value=value,
                body=EvaluatingBody.ARS,
                verdict=Verdict.NON_EVALUABLE,
                motivation="Pas encore de réponse.",
                private_note=PRIVATE,
                decided_by=self.ars,
                decided_at=timezone.now(),
            )
            AttachmentFactory(document=DocumentFactory(ej=contract.ej), indicator_value=value)

    @property
    def row_count(self) -> int:
        """7 answers of EJ 1, 5 of each other contract."""
        return 7 + 5 * (len(self.other_ejs) + 1)


@pytest.fixture
def other_region():
    """La Réunion, overseas: its départements read from three characters of the FINESS."""
    return RegionFactory(code="04", name="La Réunion", agency_name="ARS La Réunion")


@pytest.fixture
def world(region, other_region):
    return World(region, other_region)


def export_csv(*args, **options) -> tuple[bytes, str]:
    """Run the command into a CSV on standard output: (its bytes, standard error)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("export_campaign", *args, format="csv", output="-", stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue().encode(), stderr.getvalue()


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, for Excel"
    text = content[3:].decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def by_key(rows) -> dict[tuple[str, str, str], list]:
    """Data rows by (EJ FINESS, ET FINESS, code)."""
    return {(row[COLUMN["FINESS EJ"]], row[COLUMN["FINESS ET"]] or "", row[COLUMN["Code"]]): row for row in rows}


# --- The command: CSV --------------------------------------------------------------------------------


def test_the_csv_has_one_row_per_answer_with_decisions_documents_and_french_formats(world):
    content, stderr = export_csv("caqes-2025")
    header, *rows = read_csv(content)
    assert header == HEADERS
    assert len(rows) == world.row_count
    rows = by_key(rows)
    ej, et1, et2 = world.ej.finess, world.ets[0].finess, world.ets[1].finess

    livret = rows[ej, "", "1.1"]
    assert livret[: COLUMN["Code"]] == [
        "Occitanie",
        "31",
        ej,
        "CHU DE TOULOUSE",
        "CAQES CHU",
        "",
        "",
        "En évaluation",
        "03/03/2026",
    ]
    assert livret[COLUMN["Code"] :] == [
        "1.1",
        "Livret du médicament",
        "oui/non",
        "Oui",
        "Oui",
        "Non",
        "",
        "",
        "2",  # the withdrawn document is not counted
        "Atteint",
        "",
        "Partiellement atteint",
        "Livret incomplet.",
        "",
        "",
        "Partiellement atteint",
        "Livret à compléter.",
    ]
    taux = rows[ej, "", "1.2"]
    assert taux[COLUMN["Type de réponse"]] == "taux (%)"
    assert (taux[COLUMN["Cible"]], taux[COLUMN["Réalisé"]]) == ("80", "85,5")
    assert taux[COLUMN["Décision OMEDIT"]] == "Non atteint"
    assert taux[COLUMN["Motivation OMEDIT"]] == "'=1+1 motivation OMEDIT"
    # A number stays a number, negative or not; a target such as « ≥ 100 » is text.
    patients = rows[ej, "", "1.3"]
    assert patients[COLUMN["Type de réponse"]] == "nombre (patients)"
    assert (patients[COLUMN["Cible"]], patients[COLUMN["Réalisé"]]) == ("≥ 100", "-3,5")
    # The same characters typed as text are protected.
    assert rows[ej, "", "1.4"][COLUMN["Réalisé"]] == "'-3.5"
    date = rows[ej, "", "1.5"]
    assert (date[COLUMN["Cible"]], date[COLUMN["Réalisé"]]) == ("30/06/2025", "04/05/2025")
    # The list is answered per ET.
    assert rows[ej, et1, "1.6"][COLUMN["Établissement"]] == "HOPITAL PURPAN"
    assert rows[ej, et1, "1.6"][COLUMN["Réalisé"]] == "Complète"
    not_concerned = rows[ej, et2, "1.6"]
    assert not_concerned[COLUMN["Établissement"]] == "HOPITAL RANGUEIL"
    assert (not_concerned[COLUMN["Réalisé"]], not_concerned[COLUMN["Non concerné"]]) == ("", "Oui")
    # The overseas EJ's département is read from its FINESS (9704… → 974).
    overseas = rows[world.overseas_ej.finess, "", "1.1"]
    assert overseas[: COLUMN["Contrat"]] == ["La Réunion", "974", world.overseas_ej.finess, "CHU REUNION"]
    assert overseas[COLUMN["Etat en cours"]] == "Auto-Evaluation"
    assert overseas[COLUMN["Clôturée le"]] == ""
    assert overseas[COLUMN["Documents joints"]] == "1"
    assert overseas[COLUMN["Décision ARS"]] == "Non évaluable"

    summary = (
        f"Export de la campagne « CAQES 2025 » (caqes-2025, toutes régions) : {world.row_count} ligne(s), 3 contrat(s)"
    )
    assert summary in stderr


def test_csv_cells_starting_like_a_formula_come_out_as_text(world):
    rows = by_key(read_csv(export_csv("caqes-2025")[0])[1:])
    ej, et1, et2 = world.ej.finess, world.ets[0].finess, world.ets[1].finess
    comment, reason = COLUMN["Commentaire évalué 2025"], COLUMN["Justification"]
    assert rows[ej, "", "1.2"][comment] == "'" + FORMULAS["="]
    assert rows[ej, "", "1.3"][comment] == "'" + FORMULAS["+"]
    assert rows[ej, "", "1.4"][comment] == "'" + FORMULAS["-"]
    assert rows[ej, "", "1.5"][comment] == "'" + FORMULAS["@"]
    assert rows[ej, et1, "1.6"][comment] == "'" + FORMULAS["\t"]
    assert rows[ej, et2, "1.6"][reason] == "'" + FORMULAS["\r"]
    # Nothing else starts like a formula, but numbers (the negative answer of 1.3).
    for row in rows.values():
        for cell in row:
            assert not cell.startswith(exports.FORMULA_PREFIXES) or re.fullmatch(r"-\d+(,\d+)?", cell), cell


def test_private_notes_never_appear(world, tmp_path):
    content, _ = export_csv("caqes-2025")
    assert PRIVATE.encode() not in content
    path = tmp_path / "export.xlsx"
    call_command("export_campaign", "caqes-2025", format="xlsx", output=str(path), stderr=io.StringIO())
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            assert PRIVATE.encode() not in archive.read(name), name


def test_region_limits_the_rows_to_its_ej(world):
    content, stderr = export_csv("caqes-2025", region="04")
    header, *rows = read_csv(content)
    assert header == HEADERS
    assert {row[COLUMN["FINESS EJ"]] for row in rows} == {world.overseas_ej.finess}
    assert len(rows) == 5
    assert "(caqes-2025, région 04 (La Réunion)) : 5 ligne(s), 1 contrat(s)" in stderr


def test_the_file_is_named_after_the_campaign_and_region_in_the_current_directory(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stderr = io.StringIO()
    call_command("export_campaign", "caqes-2025", format="csv", region="76", stdout=io.StringIO(), stderr=stderr)
    call_command("export_campaign", "caqes-2025", format="xlsx", stdout=io.StringIO(), stderr=stderr)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export-caqes-2025-76.csv", "export-caqes-2025.xlsx"]
    rows = read_csv((tmp_path / "export-caqes-2025-76.csv").read_bytes())[1:]
    assert {row[COLUMN["Région"]] for row in rows} == {"Occitanie"}
    assert len(rows) == world.row_count - 5
    assert "→ export-caqes-2025-76.csv. Rien n'a été écrit en base." in stderr.getvalue()


# --- The command: XLSX -------------------------------------------------------------------------------


def read_xlsx(source):
    sheet = load_workbook(source).active
    return [list(row) for row in sheet.iter_rows()]


def test_the_workbook_has_typed_cells_and_text_never_becomes_a_formula(world, tmp_path):
    path = tmp_path / "export.xlsx"
    call_command("export_campaign", "caqes-2025", format="xlsx", output=str(path), stderr=io.StringIO())
    header, *rows = read_xlsx(path)
    assert [cell.value for cell in header] == HEADERS
    assert len(rows) == world.row_count
    rows = {
        (row[COLUMN["FINESS EJ"]].value, row[COLUMN["FINESS ET"]].value or "", row[COLUMN["Code"]].value): row
        for row in rows
    }
    ej, et1, et2 = world.ej.finess, world.ets[0].finess, world.ets[1].finess
    comment = COLUMN["Commentaire évalué 2025"]
    protected = [
        rows[ej, "", "1.2"][comment],
        rows[ej, "", "1.3"][comment],
        rows[ej, "", "1.4"][comment],
        rows[ej, "", "1.5"][comment],
        rows[ej, et1, "1.6"][comment],
        rows[ej, et2, "1.6"][COLUMN["Justification"]],
    ]
    # A carriage return is written as a line feed (XML would read it as one anyway).
    assert [cell.value for cell in protected] == [text.replace("\r", "\n") for text in FORMULAS.values()]
    for cell in protected:
        assert cell.data_type == "s"
        assert cell.quotePrefix
    for row in rows.values():
        for cell in row:
            assert cell.data_type != "f", cell.value

    livret = rows[ej, "", "1.1"]
    assert livret[COLUMN["Réalisé"]].value == "Oui"
    assert livret[COLUMN["Documents joints"]].value == 2
    assert livret[COLUMN["Clôturée le"]].value == datetime.datetime(2026, 3, 3)
    assert livret[COLUMN["Clôturée le"]].number_format == "DD/MM/YYYY"
    assert livret[COLUMN["Décision consolidée"]].value == "Partiellement atteint"
    taux = rows[ej, "", "1.2"]
    assert (taux[COLUMN["Cible"]].value, taux[COLUMN["Réalisé"]].value) == (80, 85.5)
    assert taux[COLUMN["Réalisé"]].data_type == "n"
    patients = rows[ej, "", "1.3"]
    assert (patients[COLUMN["Cible"]].value, patients[COLUMN["Réalisé"]].value) == ("≥ 100", -3.5)
    assert patients[COLUMN["Réalisé"]].data_type == "n"
    text = rows[ej, "", "1.4"][COLUMN["Réalisé"]]
    assert (text.value, text.data_type, text.quotePrefix) == ("-3.5", "s", True)
    assert rows[ej, "", "1.5"][COLUMN["Réalisé"]].value == datetime.datetime(2025, 5, 4)
    assert rows[ej, "", "1.4"][COLUMN["FINESS ET"]].value is None


def test_the_workbook_goes_to_standard_output(world):
    binary = io.BytesIO()
    stdout = io.TextIOWrapper(binary, encoding="utf-8")
    stderr = io.StringIO()
    call_command("export_campaign", "caqes-2025", format="xlsx", output="-", region="04", stdout=stdout, stderr=stderr)
    header, *rows = read_xlsx(io.BytesIO(binary.getvalue()))
    assert [cell.value for cell in header] == HEADERS
    assert len(rows) == 5
    assert "5 ligne(s), 1 contrat(s) → la sortie standard" in stderr.getvalue()


# --- The command: bad input ---------------------------------------------------------------------------


def test_an_unknown_campaign_is_a_clear_error_and_no_file(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        CommandError, match=r"Campagne inconnue : « caqes-2052 »\. Campagnes existantes : caqes-2025\."
    ):
        call_command("export_campaign", "caqes-2052", format="csv", stdout=io.StringIO(), stderr=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_region_is_a_clear_error(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        CommandError,
        match=r"Région inconnue : « 99 »\. Régions de la campagne caqes-2025 : 04 \(La Réunion\), 76 \(Occitanie\)\.",
    ):
        call_command("export_campaign", "caqes-2025", format="csv", region="99", stderr=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_a_region_outside_the_campaign_is_a_clear_error(world, tmp_path, monkeypatch):
    RegionFactory(code="84", name="Auvergne-Rhône-Alpes")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=r"La région 84 \(Auvergne-Rhône-Alpes\) ne participe pas à la campagne"):
        call_command("export_campaign", "caqes-2025", format="xlsx", region="84", stderr=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_an_output_in_a_missing_folder_is_a_clear_error(world, tmp_path):
    with pytest.raises(CommandError, match="Le dossier « .*absent » n'existe pas"):
        call_command(
            "export_campaign",
            "caqes-2025",
            format="csv",
            output=str(tmp_path / "absent" / "x.csv"),
            stderr=io.StringIO(),
        )


def test_an_unknown_format_is_refused(world):
    with pytest.raises(CommandError, match="invalid choice: 'ods'"):
        call_command("export_campaign", "caqes-2025", format="ods", stderr=io.StringIO())


def test_help_says_it_writes_nothing():
    from evaluation.management.commands.export_campaign import Command

    parser = Command().create_parser("manage.py", "export_campaign")
    text = " ".join(parser.format_help().split())
    assert "Read-only: writes nothing in the database" in text
    assert "--wet-run" not in text
    assert "--format {csv,xlsx}" in text


# --- Queries do not grow with the number of contracts --------------------------------------------------


def export_queries(world) -> int:
    """The queries of a whole export (read in chunks of 7 rows: several chunks)."""
    export = exports.CampaignExport(world.campaign, chunk_size=7)
    with CaptureQueriesContext(connection) as queries:
        lines = list(exports.csv_lines(export.headers, export.rows()))
    assert len(lines) == world.row_count + 1
    return len(queries)


def test_the_export_costs_one_query_for_1_or_12_contracts(region, other_region, django_assert_max_num_queries):
    world = World(region, other_region, extra=0)
    assert export_queries(world) == 1
    for n in range(10):
        ej = EntiteJuridiqueFactory(region=region, finess=finess("34", 200 + n))
        world.other_ejs.append(ej)
        world.answer_everything(ContractFactory(ej=ej, contract_type=world.campaign.contract_type))
    assert export_queries(world) == 1
    # The command adds its lookups (campaign, region, the progress bar's count), not one more per contract.
    with django_assert_max_num_queries(5):
        export_csv("caqes-2025", region="76")


# --- The admin actions ---------------------------------------------------------------------------------


def changelist_url():
    return reverse("admin:evaluation_campaign_changelist")


def run_action(client, action, campaigns):
    return client.post(changelist_url(), {"action": action, "_selected_action": [c.pk for c in campaigns]})


def test_an_ars_agent_downloads_the_csv_of_their_region_only(client_for, world):
    response = run_action(client_for(world.ars), "export_csv", [world.campaign])
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="export-caqes-2025-76.csv"'
    assert "no-store" in response["Cache-Control"]
    header, *rows = read_csv(b"".join(response.streaming_content))
    assert header == HEADERS
    assert {row[COLUMN["Région"]] for row in rows} == {"Occitanie"}
    assert len(rows) == world.row_count - 5
    assert world.overseas_ej.finess not in {row[COLUMN["FINESS EJ"]] for row in rows}


def test_an_ars_agent_downloads_the_workbook_of_their_region_only(client_for, world):
    response = run_action(client_for(world.ars), "export_xlsx", [world.campaign])
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="export-caqes-2025-76.xlsx"'
    assert response["Content-Type"] == exports.MIME_TYPES["xlsx"]
    header, *rows = read_xlsx(io.BytesIO(b"".join(response.streaming_content)))
    assert [cell.value for cell in header] == HEADERS
    assert {row[COLUMN["Région"]].value for row in rows} == {"Occitanie"}
    assert len(rows) == world.row_count - 5
    cell = next(row[COLUMN["Commentaire évalué 2025"]] for row in rows if row[COLUMN["Code"]].value == "1.2")
    assert (cell.value, cell.data_type) == (FORMULAS["="], "s")


def test_a_national_administrator_exports_every_region(client_for, world):
    response = run_action(client_for(UserFactory(national_admin=True)), "export_csv", [world.campaign])
    assert response["Content-Disposition"] == 'attachment; filename="export-caqes-2025.csv"'
    rows = read_csv(b"".join(response.streaming_content))[1:]
    assert {row[COLUMN["Région"]] for row in rows} == {"Occitanie", "La Réunion"}
    assert len(rows) == world.row_count


def test_one_campaign_at_a_time(client_for, world):
    other = CampaignFactory(contract_type=world.campaign.contract_type, regions=[world.region])
    response = run_action(client_for(world.ars), "export_csv", [world.campaign, other])
    assert response.status_code == 302
    assert "Content-Disposition" not in response
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Sélectionnez une seule campagne à exporter à la fois."
    ]


@pytest.mark.parametrize("kind", ["am_staff", "omedit_staff"])
def test_am_and_omedit_agents_have_no_export(client_for, world, kind):
    client = client_for(UserFactory(**{kind: True, "region": world.region}))
    page = client.get(changelist_url())
    assert page.status_code == 200
    action_form = page.context["action_form"]
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert not offered & {"export_csv", "export_xlsx"}
    for action in ("export_csv", "export_xlsx"):
        response = run_action(client, action, [world.campaign])
        # Django answers as to an unknown action: the list again, no file.
        assert "Content-Disposition" not in response
        assert not response.streaming
        assert response["Content-Type"] == "text/html; charset=utf-8"


def test_the_service_refuses_anybody_without_the_export_power(world):
    with pytest.raises(PermissionDenied):
        exports.region_of(world.am)
    assert exports.region_of(world.ars) == world.region
    assert exports.region_of(UserFactory(national_admin=True)) is None


def test_typed_answers():
    assert exports.typed_answer("taux", "12.5") == Decimal("12.5")
    assert exports.typed_answer("nombre", "NaN") == "NaN"
    assert exports.typed_answer("nombre", "1_000") == "1_000"
    assert exports.typed_answer("oui_non", "0") == "Non"
    assert exports.typed_answer("date", "2025-13-01") == "2025-13-01"
    assert exports.typed_answer("texte", "") is None
    assert exports.csv_cell(Decimal("-3.5")) == "-3,5"
    assert exports.csv_cell("-3.5") == "'-3.5"
