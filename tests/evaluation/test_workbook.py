"""« Télécharger le classeur » / « Déposer le classeur »: offline work, all or nothing (SECURITY.md D1, D4, E1–E4)."""

import datetime
import io
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import User
from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from demo.world import DEMO_USER_EMAIL
from evaluation import services, workbook
from evaluation.earlier import previous_comments
from evaluation.enums import AnswerLevel, SelfEvaluationState
from evaluation.models import IndicatorValue, IndicatorValueHistory, SelfEvaluation
from evaluation.perms import Abilities
from evaluation.tree import build_tree
from evaluation.views.workbook import SESSION_KEY
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.evaluation.factories import IndicatorValueFactory, NodeFactory, SelfEvaluationFactory


@pytest.fixture
def demo(db):
    """The manual's world: CAQES TEST, 20 questions for the establishment, its signataire."""
    call_command("seed_demo", password="Demo-e-CARS-2026!", stdout=io.StringIO())
    user = User.objects.get(email=DEMO_USER_EMAIL)
    User.objects.filter(pk=user.pk).update(password_must_change=False)
    user.refresh_from_db()
    return user, SelfEvaluation.objects.filter(contract__name="CAQES TEST").latest_first().first()


def download_url(self_evaluation):
    return reverse("evaluation:workbook_download", args=[self_evaluation.public_id])


def upload_url(self_evaluation):
    return reverse("evaluation:workbook_upload", args=[self_evaluation.public_id])


def download(client, self_evaluation) -> openpyxl.Workbook:
    response = client.get(download_url(self_evaluation))
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows_by_key(sheet) -> dict[tuple[str, str], int]:
    header = [cell.value for cell in sheet[1]]
    code, finess = header.index("Code") + 1, header.index("Établissement") + 1
    return {
        (sheet.cell(row, code).value, sheet.cell(row, finess).value or ""): row for row in range(2, sheet.max_row + 1)
    }


# In `fill`, the title of this year's comment column, whatever the year (« Commentaire évalué 2025 »).
COMMENT = "Commentaire"


def column_of(header: list, title: str) -> int:
    if title == COMMENT and title not in header:
        [title] = [h for h in header if h and h.startswith("Commentaire évalué ") and h[-4:].isdigit()]
    return header.index(title) + 1


def fill(book, answers: dict) -> bytes:
    """Write {(code, finess) or code: {column title: value}} into the workbook, as a user in Excel would."""
    sheet = book[workbook.SHEET_TITLE]
    header = [cell.value for cell in sheet[1]]
    rows = rows_by_key(sheet)
    for key, cells in answers.items():
        row = rows[key if isinstance(key, tuple) else (key, "")]
        for title, value in cells.items():
            sheet.cell(row, column_of(header, title)).value = value
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def upload(client, self_evaluation, data: bytes, name="auto-evaluation.xlsx"):
    return client.post(upload_url(self_evaluation), {"workbook": SimpleUploadedFile(name, data)})


def confirm(client, self_evaluation, data: bytes):
    return client.post(upload_url(self_evaluation), {"confirm": "1", "sha256": workbook.sha256(data)})


def history_of(self_evaluation):
    """The answers' history of `self_evaluation` (the demo's earlier year has its own)."""
    return IndicatorValueHistory.objects.filter(indicator_value__self_evaluation=self_evaluation)


def saves_audited(self_evaluation):
    """The audited saves of answers of `self_evaluation` (not those of the demo's earlier year)."""
    values = IndicatorValue.objects.filter(self_evaluation=self_evaluation).values_list("pk", flat=True)
    return AuditEvent.objects.filter(event_type=EventType.VALUE_SAVED, object_id__in=[str(pk) for pk in values])


def answers_of(self_evaluation):
    return {
        value.indicator.code: (value.value, value.not_applicable, value.not_applicable_reason, value.comment)
        for value in IndicatorValue.objects.filter(self_evaluation=self_evaluation).select_related("indicator")
    }


THREE_ANSWERS = {
    "1.1.1.a": {"Réalisé": "85,5"},
    "2.1.1.a": {"Réalisé": "1 - OUI", COMMENT: "Validé en COMEDIMS"},
    "3.1.3.b": {"Non concerné": "OUI", "Justification": "Pas d'analyse pharmaceutique cette année."},
}


# --- Export ---------------------------------------------------------------------------------------


def test_the_export_holds_every_establishment_question(client_for, demo):
    user, self_evaluation = demo
    value = IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code="3.1.3.a")
    services.save_answer(
        value,
        acting_user=user,
        expected_version=1,
        answer={"value": "72.5", "not_applicable": False, "not_applicable_reason": "", "comment": "En hausse"},
    )
    response = client_for(user).get(download_url(self_evaluation))
    assert response["Content-Type"] == workbook.MIME_TYPE
    year = self_evaluation.campaign.year
    assert (
        response["Content-Disposition"] == f'attachment; filename="auto-evaluation-380780080-caqes-test-{year}.xlsx"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"

    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book[workbook.SHEET_TITLE]
    assert [cell.value for cell in sheet[1]] == [
        "Code",
        "Établissement",
        "Question",
        "Type",
        "Unité",
        "Choix possibles",
        "Cible",
        "Réalisé",
        "Non concerné",
        "Justification",
        f"Commentaire évalué {year}",
        "Commentaire évalué N-1",
        "Version",
    ]
    rows = {sheet.cell(row, 1).value: [c.value for c in sheet[row]] for row in range(2, sheet.max_row + 1)}
    # The 20 questions of the establishment, not those of the Assurance Maladie.
    assert len(rows) == 20
    assert "4.1.1.a" not in rows and "4.1.1.c" in rows
    assert rows["3.1.3.a"] == [
        "3.1.3.a",
        None,
        "Taux de lits couverts par une analyse pharmaceutique des prescriptions",
        "taux (%)",
        "%",
        None,
        "80 %",
        "72,5",
        "NON",
        None,
        "En hausse",
        None,  # no comment on this question the year before
        2,
    ]
    assert rows["3.1.3.b"][3:8] == ["liste de choix", None, "Niveau 1 ; Niveau 2 ; Niveau 3", "Niveau 2", None]
    assert rows["1.1.1.a"][-1] == 1
    # The previous campaign's comment, read-only, as the question page shows it.
    earlier = SelfEvaluation.objects.get(contract=self_evaluation.contract, campaign__year=year - 1)
    assert (
        rows["2.1.1.a"][11] == IndicatorValue.objects.get(self_evaluation=earlier, indicator__code="2.1.1.a").comment
    )
    assert rows["2.1.1.a"][11].startswith("Groupe de travail sur les anticoagulants oraux")
    assert sheet.cell(rows_by_key(sheet)[("2.1.1.a", "")], 12).protection.locked
    # The version is a hidden technical column; the self-evaluation is identified by a very hidden sheet.
    assert not sheet.column_dimensions["L"].hidden
    assert sheet.column_dimensions["M"].hidden
    assert sheet.auto_filter.ref == "A1:L21"
    assert book[workbook.TECHNICAL_SHEET_TITLE].sheet_state == "veryHidden"
    assert book[workbook.TECHNICAL_SHEET_TITLE]["B2"].value == str(self_evaluation.public_id)
    # Only the answer's cells are editable; the sheet is protected, without password.
    assert sheet.protection.sheet and not sheet.protection.password
    assert sheet["A2"].protection.locked and sheet["G2"].protection.locked
    assert not any(sheet.cell(2, column).protection.locked for column in (8, 9, 10, 11))
    validations = {dv.formula1: str(dv.sqref) for dv in sheet.data_validations.dataValidation}
    assert '"1 - OUI,0 - NON"' in validations
    assert '"OUI,NON"' in validations
    assert "'Listes'!$A$1:$A$3" in validations


def test_et_level_questions_have_one_row_per_establishment(client_for, member, ej):
    contract = ContractFactory(ej=ej)
    sites = EtablissementFactory.create_batch(2, ej=ej)
    contract.etablissements.set(sites)
    self_evaluation = SelfEvaluationFactory(contract=contract)
    referential = self_evaluation.campaign.referential
    per_site = NodeFactory(referential=referential, code="1.a", taux=True, answer_level=AnswerLevel.ET)
    for site in sites:
        IndicatorValueFactory(self_evaluation=self_evaluation, indicator=per_site, etablissement=site)
    IndicatorValueFactory(
        self_evaluation=self_evaluation, indicator=NodeFactory(referential=referential, code="1.b", oui_non=True)
    )
    client = client_for(member)
    book = download(client, self_evaluation)
    assert set(rows_by_key(book[workbook.SHEET_TITLE])) == {
        ("1.a", sites[0].finess),
        ("1.a", sites[1].finess),
        ("1.b", ""),
    }
    data = fill(book, {("1.a", sites[0].finess): {"Réalisé": "10"}, ("1.a", sites[1].finess): {"Réalisé": "20,5"}})
    assertContains(upload(client, self_evaluation, data), "2 questions modifiées par le classeur")
    confirm(client, self_evaluation, data)
    saved = dict(IndicatorValue.objects.filter(indicator=per_site).values_list("etablissement__finess", "value"))
    assert saved == {sites[0].finess: "10", sites[1].finess: "20.5"}

    other_site = EtablissementFactory(ej=ej)  # not covered by the contract
    book = download(client, self_evaluation)
    data = fill(book, {("1.a", sites[0].finess): {"Établissement": other_site.finess, "Réalisé": "30"}})
    preview = upload(client, self_evaluation, data)
    assertContains(
        preview, f"La question 1.a n&#x27;est pas à renseigner pour l&#x27;établissement « {other_site.finess} »."
    )


def test_a_formula_looking_text_is_written_as_text_and_read_back_unchanged(client_for, demo):
    """SECURITY.md D4: user text starting like a formula never becomes one."""
    user, self_evaluation = demo
    texts = {
        "1.1.1.a": '=HYPERLINK("http://exemple.invalid","clic")',
        "2.1.1.a": "+33 6 12 34 56 78",
        "2.1.1.b": "@SUM(A1:A2)",
        "2.1.1.c": "-2 lits",
    }
    for code, text in texts.items():
        IndicatorValue.objects.filter(self_evaluation=self_evaluation, indicator__code=code).update(comment=text)
    content = client_for(user).get(download_url(self_evaluation)).content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert not any(b"<f>" in archive.read(name) for name in archive.namelist() if name.endswith(".xml"))
    book = openpyxl.load_workbook(io.BytesIO(content), data_only=False)
    sheet = book[workbook.SHEET_TITLE]
    rows = rows_by_key(sheet)
    for code, text in texts.items():
        cell = sheet.cell(rows[(code, "")], 11)
        assert (cell.value, cell.data_type) == (text, "s")
        assert cell.quotePrefix
    # Uploaded back untouched, nothing changes.
    response = upload(client_for(user), self_evaluation, content)
    assertContains(response, "Aucune modification")


def test_a_reader_downloads_a_fully_locked_workbook(client_for, demo):
    _, self_evaluation = demo
    reader = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.LECTEUR).user
    sheet = download(client_for(reader), self_evaluation)[workbook.SHEET_TITLE]
    assert sheet.max_row == 21
    assert all(sheet.cell(2, column).protection.locked for column in range(1, 14))
    assert not sheet.data_validations.dataValidation


# --- The comment columns, as the question page names them --------------------------------------------


def test_last_years_comments_are_read_in_one_query_for_all_questions(demo, django_assert_num_queries):
    _, self_evaluation = demo
    earlier = SelfEvaluation.objects.select_related("campaign").get(
        contract=self_evaluation.contract, campaign__year=self_evaluation.campaign.year - 1
    )
    with django_assert_num_queries(1):
        previous = previous_comments(self_evaluation)
    expected = dict(
        IndicatorValue.objects.filter(self_evaluation=earlier)
        .exclude(comment="")
        .values_list("indicator__code", "comment")
    )
    assert previous == {(code, None): comment for code, comment in expected.items()}
    assert len(previous) == 4
    # The earlier year's own N-1: none (the demo has no year before it).
    with django_assert_num_queries(1):
        assert previous_comments(earlier) == {}


def test_the_comment_columns_change_their_names_and_stay_importable(client_for, demo):
    """« Commentaire évalué <année> » is read; so is the former « Commentaire » of a workbook downloaded before;
    « Commentaire évalué N-1 » is information: what is typed there is ignored."""
    user, self_evaluation = demo
    year = self_evaluation.campaign.year
    client = client_for(user)
    book = download(client, self_evaluation)
    header = [cell.value for cell in book[workbook.SHEET_TITLE][1]]
    assert header.count(f"Commentaire évalué {year}") == 1 and "Commentaire" not in header

    data = fill(book, {"2.1.1.b": {"Réalisé": "1", COMMENT: "Fait", "Commentaire évalué N-1": "Réécrit"}})
    preview = upload(client, self_evaluation, data)
    assertContains(preview, "1 question modifiée par le classeur")
    assertContains(preview, f"Commentaire évalué {year}")
    assertNotContains(preview, "Réécrit")
    confirm(client, self_evaluation, data)
    assert answers_of(self_evaluation)["2.1.1.b"] == ("1", False, "", "Fait")
    earlier = SelfEvaluation.objects.get(contract=self_evaluation.contract, campaign__year=year - 1)
    assert IndicatorValue.objects.get(self_evaluation=earlier, indicator__code="2.1.1.b").comment.startswith(
        "Actions reportées"
    )

    book = download(client, self_evaluation)
    sheet = book[workbook.SHEET_TITLE]
    sheet.cell(1, header.index(f"Commentaire évalué {year}") + 1).value = "Commentaire"
    data = fill(book, {"2.1.1.c": {"Réalisé": "0", "Commentaire": "Ancien classeur"}})
    assertContains(upload(client, self_evaluation, data), "1 question modifiée par le classeur")
    confirm(client, self_evaluation, data)
    assert answers_of(self_evaluation)["2.1.1.c"] == ("0", False, "", "Ancien classeur")


def test_an_error_in_the_comment_names_its_column(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    data = fill(download(client, self_evaluation), {"2.1.1.b": {"Réalisé": "1", COMMENT: "x" * 5001}})
    preview = upload(client, self_evaluation, data)
    errors = preview.text.split('id="erreurs"')[1].split("</table>")[0]
    assert f"<td>Commentaire évalué {self_evaluation.campaign.year}</td>" in errors
    assert "5000 caractères (actuellement 5001)" in errors


def test_the_upload_page_names_the_columns_to_fill_as_the_workbook_does(client_for, demo):
    user, self_evaluation = demo
    response = client_for(user).get(upload_url(self_evaluation))
    assertContains(response, f"« Commentaire évalué {self_evaluation.campaign.year} »")
    assertContains(response, "« Commentaire évalué N-1 »")


# --- Round trip -----------------------------------------------------------------------------------


def test_download_fill_upload_preview_confirm(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    assert build_tree(self_evaluation, can=Abilities(write=True)).percent == 0
    data = fill(download(client, self_evaluation), THREE_ANSWERS)

    preview = upload(client, self_evaluation, data)
    assert preview.status_code == 200
    assertContains(preview, "3 questions modifiées par le classeur")
    assertContains(preview, "1.1.1.a - Taux d&#x27;ordonnances de sortie")
    assertContains(preview, "<td>85,5 %</td>", html=True)
    assertContains(preview, "Enregistrer ces modifications")
    assert not history_of(self_evaluation).exists()  # the preview writes nothing

    response = confirm(client, self_evaluation, data)
    assertRedirects(
        response, reverse("evaluation:indicators", args=[self_evaluation.public_id]), fetch_redirect_response=False
    )
    assertContains(client.get(response.url), "Classeur appliqué : 3 questions mises à jour.")
    answers = answers_of(self_evaluation)
    assert answers["1.1.1.a"] == ("85.5", False, "", "")
    assert answers["2.1.1.a"] == ("1", False, "", "Validé en COMEDIMS")
    assert answers["3.1.3.b"] == ("", True, "Pas d'analyse pharmaceutique cette année.", "")
    history = IndicatorValueHistory.objects.filter(indicator_value__self_evaluation=self_evaluation)
    assert history.count() == 3 and {h.changed_by for h in history} == {user}
    assert saves_audited(self_evaluation).filter(actor=user).count() == 3
    assert build_tree(self_evaluation, can=Abilities(write=True)).percent == 15
    # The same confirmation again applies nothing: the pending changes were used up.
    response = confirm(client, self_evaluation, data)
    assert response.status_code == 409
    assert history.count() == 3


def test_a_row_untouched_in_the_workbook_keeps_a_later_change_made_on_the_site(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    book = download(client, self_evaluation)
    colleague = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR).user
    value = IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code="2.1.1.b")
    services.save_answer(
        value,
        acting_user=colleague,
        expected_version=1,
        answer={"value": "0", "not_applicable": False, "not_applicable_reason": "", "comment": ""},
    )
    data = fill(book, {"1.1.1.a": {"Réalisé": "90"}})
    assertContains(upload(client, self_evaluation, data), "1 question modifiée par le classeur")
    confirm(client, self_evaluation, data)
    answers = answers_of(self_evaluation)
    assert answers["1.1.1.a"][0] == "90"
    assert answers["2.1.1.b"][0] == "0"


def test_rows_are_found_by_their_code_not_their_order(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    book = download(client, self_evaluation)
    sheet = book[workbook.SHEET_TITLE]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    rows.reverse()
    for number, row in enumerate(rows, start=2):
        for column, value in enumerate(row, start=1):
            sheet.cell(number, column).value = value
    data = fill(book, {"3.1.2.a": {"Réalisé": 12}})  # a number typed into the cell
    assertContains(upload(client, self_evaluation, data), "1 question modifiée par le classeur")
    confirm(client, self_evaluation, data)
    assert answers_of(self_evaluation)["3.1.2.a"][0] == "12"


def test_numbers_percentages_and_dates_typed_in_excel_are_read_as_typed(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    book = download(client, self_evaluation)
    sheet = book[workbook.SHEET_TITLE]
    rows = rows_by_key(sheet)
    rate = sheet.cell(rows[("3.1.3.a", "")], 8)
    rate.value, rate.number_format = 0.855, "0.0%"
    sheet.cell(rows[("3.1.1.b", "")], 8).value = datetime.datetime(2026, 3, 2)
    sheet.cell(rows[("3.1.2.a", "")], 8).value = 1250.0
    sheet.cell(rows[("3.1.1.a", "")], 8).value = 1
    data = fill(book, {})
    assertContains(upload(client, self_evaluation, data), "4 questions modifiées par le classeur")
    confirm(client, self_evaluation, data)
    answers = answers_of(self_evaluation)
    assert [answers[code][0] for code in ("3.1.3.a", "3.1.1.b", "3.1.2.a", "3.1.1.a")] == [
        "85.5",
        "2026-03-02",
        "1250",
        "1",
    ]


# --- Errors: nothing is applied -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_row,column,message",
    [
        ({"3.1.3.a": {"Réalisé": "beaucoup"}}, "Réalisé", "Saisissez un taux en chiffres"),
        ({"3.1.3.a": {"Réalisé": "150"}}, "Réalisé", "Saisissez un taux entre 0 et 100"),
        ({"3.1.3.a": {"Réalisé": "12,345"}}, "Réalisé", "Deux décimales au plus"),
        ({"3.1.1.a": {"Réalisé": "peut-être"}}, "Réalisé", "Choisissez « 1 - OUI » ou « 0 - NON »"),
        ({"3.1.3.b": {"Réalisé": "Niveau 4"}}, "Réalisé", "Choisissez une des valeurs proposées"),
        ({"3.1.1.b": {"Réalisé": "31/02/2026"}}, "Réalisé", "Saisissez une date au format JJ/MM/AAAA"),
        ({"3.1.3.a": {"Non concerné": "OUI"}}, "Justification", "Justifiez « Non concerné »"),
        ({"3.1.3.a": {"Non concerné": "peut-être"}}, "Non concerné", "Saisissez OUI ou NON"),
        ({"3.1.3.a": {COMMENT: "Vu"}}, "Réalisé", "Saisissez le réalisé, ou cochez « Non concerné »"),
        ({"3.1.3.a": {"Code": "9.9.9"}}, "Code", "Code « 9.9.9 » inconnu"),
        ({"3.1.3.a": {"Réalisé": "=1+1"}}, "Réalisé", "Formule refusée"),
        ({"3.1.3.a": {"Réalisé": "50", "Version": "abc"}}, "Version", "Version manquante ou illisible"),
    ],
    ids=[
        "word-in-a-rate",
        "rate-over-100",
        "three-decimals",
        "yes-no",
        "not-a-choice",
        "impossible-date",
        "not-applicable-unjustified",
        "not-applicable-neither-yes-nor-no",
        "required-left-empty",
        "unknown-code",
        "formula",
        "version-edited",
    ],
)
def test_one_bad_row_applies_nothing(client_for, demo, bad_row, column, message):
    user, self_evaluation = demo
    client = client_for(user)
    book = download(client, self_evaluation)
    bad_line = rows_by_key(book[workbook.SHEET_TITLE])[(next(iter(bad_row)), "")]
    data = fill(book, {**THREE_ANSWERS, **bad_row})
    before = answers_of(self_evaluation)

    preview = upload(client, self_evaluation, data)
    assertContains(preview, "rien ne peut être enregistré")
    errors = preview.text.split('id="erreurs"')[1].split("</table>")[0]
    assert f"<td>{bad_line}</td>" in errors and f"<td>{column}</td>" in errors
    assert message.replace("'", "&#x27;") in errors
    assertNotContains(preview, "Enregistrer ces modifications")
    assert str(self_evaluation.public_id) not in client.session.get(SESSION_KEY, {})

    response = confirm(client, self_evaluation, data)  # confirmed anyway
    assert response.status_code == 409
    assert answers_of(self_evaluation) == before
    assert not history_of(self_evaluation).exists()


def test_duplicated_rows_and_missing_columns_are_errors(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    book = download(client, self_evaluation)
    sheet = book[workbook.SHEET_TITLE]
    rows = rows_by_key(sheet)
    last = sheet.max_row + 1
    for column in range(1, 14):
        sheet.cell(last, column).value = sheet.cell(rows[("1.1.1.a", "")], column).value
    data = fill(book, {"1.1.1.a": {"Réalisé": "10"}})
    preview = upload(client, self_evaluation, data)
    assertContains(preview, f"Ligne en double : la question 1.1.1.a figure déjà ligne {rows[('1.1.1.a', '')]}.")

    book = download(client, self_evaluation)
    book[workbook.SHEET_TITLE]["I1"].value = "NC"
    preview = upload(client, self_evaluation, fill(book, {}))
    assertContains(preview, "La colonne « Non concerné » est introuvable dans la ligne d&#x27;en-tête.")


def test_the_workbook_of_another_self_evaluation_is_refused(client_for, demo):
    user, self_evaluation = demo
    other = SelfEvaluationFactory(contract=ContractFactory(ej=self_evaluation.contract.ej))
    data = fill(download(client_for(user), other), {})
    response = upload(client_for(user), self_evaluation, data)
    assertContains(response, "celui d&#x27;une autre auto-évaluation", status_code=400)


# --- Optimistic locking ---------------------------------------------------------------------------


def _colleague_saves(self_evaluation, code, value):
    colleague = MembershipFactory(
        ej=self_evaluation.contract.ej, role=MembershipRole.CONTRIBUTEUR, user__first_name="Camille"
    ).user
    current = IndicatorValue.objects.get(self_evaluation=self_evaluation, indicator__code=code)
    services.save_answer(
        current,
        acting_user=colleague,
        expected_version=current.version,
        answer={"value": value, "not_applicable": False, "not_applicable_reason": "", "comment": ""},
    )
    return colleague


def test_a_question_changed_since_the_export_is_an_error_of_the_preview(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    book = download(client, self_evaluation)
    colleague = _colleague_saves(self_evaluation, "1.1.1.a", "40")
    data = fill(book, THREE_ANSWERS)
    preview = upload(client, self_evaluation, data)
    assertContains(preview, "rien ne peut être enregistré")
    assertContains(preview, f"a été modifiée par {colleague}")
    assert confirm(client, self_evaluation, data).status_code == 409
    assert answers_of(self_evaluation)["1.1.1.a"][0] == "40"
    assert history_of(self_evaluation).count() == 1  # the colleague's save only


def test_a_question_changed_between_preview_and_confirmation_aborts_everything(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    data = fill(download(client, self_evaluation), THREE_ANSWERS)
    assertContains(upload(client, self_evaluation, data), "3 questions modifiées")
    colleague = _colleague_saves(self_evaluation, "3.1.3.b", "Niveau 3")
    response = confirm(client, self_evaluation, data)
    assertContains(response, "une question a été modifiée entre-temps", status_code=409)
    assertContains(response, f"a été modifiée par {colleague}", status_code=409)
    assertContains(response, "3.1.3.b - Niveau d&#x27;analyse pharmaceutique", status_code=409)
    answers = answers_of(self_evaluation)
    assert answers["1.1.1.a"][0] == "" and answers["2.1.1.a"][0] == ""  # saved before the conflict, rolled back
    assert answers["3.1.3.b"][0] == "Niveau 3"
    assert history_of(self_evaluation).count() == 1
    assert saves_audited(self_evaluation).count() == 1


# --- Who may upload -------------------------------------------------------------------------------


def test_a_reader_cannot_upload(client_for, demo):
    user, self_evaluation = demo
    data = fill(download(client_for(user), self_evaluation), THREE_ANSWERS)
    reader = MembershipFactory(ej=self_evaluation.contract.ej, role=MembershipRole.LECTEUR).user
    client = client_for(reader)
    assertContains(client.get(upload_url(self_evaluation)), "Vous ne pouvez pas déposer de classeur", status_code=403)
    assertContains(upload(client, self_evaluation, data), "Vous ne pouvez pas déposer de classeur", status_code=403)
    assert confirm(client, self_evaluation, data).status_code == 403
    assert not history_of(self_evaluation).exists()
    assert AuditEvent.objects.filter(event_type=EventType.WRITE_REFUSED, actor=reader).count() == 2


def test_a_closed_self_evaluation_refuses_the_workbook(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    data = fill(download(client, self_evaluation), THREE_ANSWERS)
    SelfEvaluation.objects.filter(pk=self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=timezone.now()
    )
    assertContains(upload(client, self_evaluation, data), "elle est close", status_code=403)
    assert not history_of(self_evaluation).exists()


def test_a_closure_between_preview_and_confirmation_applies_nothing(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    data = fill(download(client, self_evaluation), THREE_ANSWERS)
    assertContains(upload(client, self_evaluation, data), "3 questions modifiées")
    # The deadline passes while the user reads the preview.
    campaign = self_evaluation.campaign
    campaign.self_assessment_deadline = campaign.self_assessment_start
    campaign.save(update_fields=["self_assessment_deadline"])
    response = confirm(client, self_evaluation, data)
    assert response.status_code == 403
    assert not history_of(self_evaluation).exists()


def test_the_pending_changes_expire_and_must_match_the_preview(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    data = fill(download(client, self_evaluation), THREE_ANSWERS)
    upload(client, self_evaluation, data)
    assert confirm(client, self_evaluation, b"another file").status_code == 409  # not the previewed file
    upload(client, self_evaluation, data)
    session = client.session
    session[SESSION_KEY][str(self_evaluation.public_id)]["created_at"] -= 31 * 60
    session.save()
    response = confirm(client, self_evaluation, data)
    assertContains(response, "il a expiré après 30 minutes", status_code=409)
    assert not history_of(self_evaluation).exists()


def test_another_ejs_member_gets_404_on_both_urls(client_for, demo, other_member):
    _, self_evaluation = demo
    client = client_for(other_member)
    assert client.get(download_url(self_evaluation)).status_code == 404
    assert client.get(upload_url(self_evaluation)).status_code == 404
    assert upload(client, self_evaluation, b"PK").status_code == 404


def test_agency_staff_download_but_cannot_upload(client_for, demo, ars_staff):
    _, self_evaluation = demo
    client = client_for(ars_staff)
    assert client.get(download_url(self_evaluation)).status_code == 200
    assert client.get(upload_url(self_evaluation)).status_code == 403


# --- Not a workbook -------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return output.getvalue()


WORKBOOK_PARTS = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


def _encrypted() -> bytes:
    """A ZIP whose entries say they are encrypted (zipfile cannot write one; the flag is what we check)."""
    data = bytearray(_zip(WORKBOOK_PARTS))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (position := data.find(signature, start)) >= 0:
            data[position + flag_offset] |= 0x1
            start = position + 4
    return bytes(data)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("classeur.xlsx", b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n", "n&#x27;est pas un classeur Excel"),
        ("classeur.xlsx", b"<!DOCTYPE html><html><body>x</body></html>", "n&#x27;est pas un classeur Excel"),
        ("classeur.xlsx", _zip({"notes.txt": b"hello"}), "n&#x27;est pas un classeur Excel"),
        ("classeur.xlsx", _encrypted(), "Ce classeur est chiffré"),
        (
            "classeur.xlsx",
            _zip({**WORKBOOK_PARTS, "xl/worksheets/sheet1.xml": b"0" * (20 * 1024 * 1024)}),
            "anormalement volumineux une fois décompressé",
        ),
        (
            "classeur.xlsx",
            _zip({**WORKBOOK_PARTS, **{f"xl/media/{n}.xml": b"x" for n in range(201)}}),
            "trop d&#x27;éléments",
        ),
        ("classeur.xlsx", _zip({**WORKBOOK_PARTS, "xl/vbaProject.bin": b"x"}), "contient des macros"),
        ("classeur.xlsx", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "ancien classeur (.xls)"),
        ("classeur.xlsx", _zip({**WORKBOOK_PARTS, "../../etc/passwd": b"x"}), "n&#x27;est pas un classeur Excel"),
        ("classeur.xlsx", _zip(WORKBOOK_PARTS), "Ce classeur est illisible"),
        ("classeur.xls", _zip(WORKBOOK_PARTS), "Seuls les classeurs .xlsx sont acceptés"),
        ("classeur.xlsx.pdf", _zip(WORKBOOK_PARTS), "Seuls les classeurs .xlsx sont acceptés"),
        ("classeur", _zip(WORKBOOK_PARTS), "Seuls les classeurs .xlsx sont acceptés"),
    ],
    ids=[
        "pdf-renamed",
        "html-page",
        "zip-without-workbook",
        "encrypted-zip",
        "zip-bomb",
        "too-many-entries",
        "macros",
        "ole-or-password",
        "path-traversal",
        "zip-not-readable",
        "xls-name",
        "double-extension",
        "no-extension",
    ],
)
def test_what_is_not_an_xlsx_workbook_is_refused(client_for, demo, name, content, message):
    user, self_evaluation = demo
    response = upload(client_for(user), self_evaluation, content, name=name)
    assertContains(response, message, status_code=400)
    assert not history_of(self_evaluation).exists()


def test_upper_case_extension_is_accepted(client_for, demo):
    user, self_evaluation = demo
    client = client_for(user)
    data = fill(download(client, self_evaluation), THREE_ANSWERS)
    assertContains(upload(client, self_evaluation, data, name="CLASSEUR.XLSX"), "3 questions modifiées")


def test_five_mo_and_one_byte_is_refused(client_for, demo):
    user, self_evaluation = demo
    content = b"PK\x03\x04" + b"\0" * (workbook.UploadLimits.MAX_SIZE - 3)
    response = upload(client_for(user), self_evaluation, content)
    assertContains(response, "Le classeur dépasse 5 Mo.", status_code=400)


def test_a_large_export_passes_the_upload_checks(client_for, member, ej):
    """Our own workbooks stay within the ZIP limits (entries, size, ratio), even for a big contract."""
    contract = ContractFactory(ej=ej)
    sites = EtablissementFactory.create_batch(5, ej=ej)
    contract.etablissements.set(sites)
    self_evaluation = SelfEvaluationFactory(contract=contract)
    referential = self_evaluation.campaign.referential
    for n in range(300):
        node = NodeFactory(
            referential=referential, code=f"9.{n}", taux=True, answer_level=AnswerLevel.ET if n % 2 else AnswerLevel.EJ
        )
        for site in sites if n % 2 else [None]:
            IndicatorValueFactory(
                self_evaluation=self_evaluation, indicator=node, etablissement=site, comment="R" * 50
            )
    content = client_for(member).get(download_url(self_evaluation)).content
    workbook.check_container(content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        ratios = [info.file_size / max(info.compress_size, 1) for info in archive.infolist()]
    assert max(ratios) < workbook.UploadLimits.MAX_RATIO / 3, ratios
    assert workbook.parse_workbook(content, self_evaluation).changes == []
