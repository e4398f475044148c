import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import User
from audit.enums import EventType
from audit.models import AuditEvent
from contracts.models import Contract, EntiteJuridique, IdentificationData, Membership
from demo.world import (
    AM_USER_EMAIL,
    ARS_USER_EMAIL,
    CLOSED_USER_EMAIL,
    DEMO_USER_EMAIL,
    EARLIER_ANSWERS,
    OMEDIT_USER_EMAIL,
    OTHER_USER_EMAIL,
)
from documents.enums import ScanStatus
from documents.perms import may_download
from evaluation.attachments import DocumentRefused, withdraw
from evaluation.enums import SelfEvaluationState
from evaluation.models import Attachment, IndicatorValue, IndicatorValueHistory, Node, SelfEvaluation
from tests.accounts.factories import UserFactory


PASSWORD = "Demo-e-CARS-2026!"


def seed(**options):
    call_command("seed_demo", stdout=io.StringIO(), **options)


def project_counts():
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_seed_demo_twice_gives_the_same_counts():
    seed(password=PASSWORD)
    first = project_counts()
    seed()
    seed(password=PASSWORD)
    assert project_counts() == first
    assert first["contracts.EntiteJuridique"] == 3
    assert first["accounts.User"] == 6


def test_seed_demo_builds_the_manuals_world():
    seed(password=PASSWORD)

    grenoble = EntiteJuridique.objects.get(finess="380780080")
    assert (grenoble.name, grenoble.postcode, grenoble.city, grenoble.phone) == (
        "CHU DE GRENOBLE ALPES",
        "38043",
        "GRENOBLE",
        "0476767575",
    )
    contract = Contract.objects.get(name="CAQES TEST")
    assert contract.ej == grenoble
    assert (contract.contract_type.code, contract.code, contract.get_status_display()) == ("CAQES", "PUBLIC", "Signé")
    assert contract.ars_contact.get_full_name() == "Mourad ABED"
    # The current campaign evaluates last year; CAQES TEST also has the year before (test below).
    self_evaluation = SelfEvaluation.objects.filter(contract=contract).latest_first().first()
    assert self_evaluation.campaign.year == timezone.localdate().year - 1
    assert self_evaluation.state == SelfEvaluationState.AUTO_EVALUATION

    # The manual's tree, completed to 20 questions that the establishment must fill.
    referential = self_evaluation.campaign.referential
    codes = set(Node.objects.filter(referential=referential).values_list("code", flat=True))
    assert {"1.1", "1.1.1", "1.1.1.a", "2.1", "2.1.1", "2.1.1.a", "2.1.1.b", "2.1.1.c", "3.1", "3.1.1"} <= codes
    assert Node.objects.filter(referential=referential).to_fill_by_establishment().count() == 20
    to_fill = IndicatorValue.objects.filter(
        self_evaluation=self_evaluation, indicator__in=Node.objects.to_fill_by_establishment()
    )
    assert to_fill.count() == 20
    assert not to_fill.filled().exists()

    # The campaign's self-evaluation is open today.
    campaign = self_evaluation.campaign
    assert campaign.self_assessment_start <= timezone.localdate() <= campaign.self_assessment_deadline


def the_two_years():
    """CAQES TEST's self-evaluations: the current campaign's, and the year before's."""
    current, earlier = (
        SelfEvaluation.objects.filter(contract__name="CAQES TEST").select_related("campaign").latest_first()
    )
    return current, earlier


def test_the_identification_data_are_those_of_the_year_the_campaign_evaluates(client_for):
    seed(password=PASSWORD)
    current, _ = the_two_years()
    contract = current.contract
    sites = list(contract.etablissements.order_by("finess"))
    assert sorted(IdentificationData.objects.values_list("etablissement__finess", "year")) == [
        (site.finess, current.campaign.year) for site in sites
    ]
    # The pré-campagne page of an ET shows them, not « — ».
    demo_user = User.objects.get(email=DEMO_USER_EMAIL)
    User.objects.filter(pk=demo_user.pk).update(password_must_change=False)
    nord = next(site for site in sites if site.finess == "380012658")
    page = client_for(demo_user).get(reverse("contracts:identification", args=[contract.public_id, nord.public_id]))
    assertContains(page, str(current.campaign.year))
    assertContains(page, "725")  # lits de médecine
    assertContains(page, "Easily Prescription")


def test_caqes_test_has_its_year_before_over_with_answers_comments_and_documents():
    seed(password=PASSWORD)
    current, earlier = the_two_years()
    today = timezone.localdate()
    year = current.campaign.year - 1
    assert (current.campaign.year, earlier.campaign.year) == (today.year - 1, year)
    assert (
        earlier.campaign.code == f"caqes-{year}-occitanie"
        and earlier.campaign.referential == current.campaign.referential
    )

    # Over, through the lifecycle's transitions, and its calendar a year before the current one.
    assert earlier.state == SelfEvaluationState.DEFINITIVE and earlier.closed_at is not None
    assert list(earlier.transitions.order_by("created_at", "id").values_list("to_state", flat=True)) == [
        SelfEvaluationState.AUTO_EVALUATION,
        SelfEvaluationState.CLOTUREE,
        SelfEvaluationState.EN_EVALUATION,
        SelfEvaluationState.RAPPORT_ENVOYE,
        SelfEvaluationState.DEFINITIVE,
    ]
    assert earlier.campaign.self_assessment_deadline.year == current.campaign.self_assessment_deadline.year - 1
    assert earlier.campaign.self_assessment_deadline < today and not earlier.is_open_on(today)
    assert not earlier.is_current() and current.is_current()

    # Its answers and comments, saved by the demo's signataire through the service (history, audit).
    demo_user = User.objects.get(email=DEMO_USER_EMAIL)
    answered = IndicatorValue.objects.filter(self_evaluation=earlier).answered().select_related("indicator")
    assert {value.indicator.code: (value.value, value.comment) for value in answered} == {
        code: (answer, comment.format(year=year)) for code, answer, comment, _ in EARLIER_ANSWERS
    }
    assert {value.updated_by for value in answered} == {demo_user}
    history = IndicatorValueHistory.objects.filter(indicator_value__self_evaluation=earlier)
    assert history.count() == len(EARLIER_ANSWERS)
    assert AuditEvent.objects.filter(event_type=EventType.VALUE_SAVED, actor=demo_user).count() == len(EARLIER_ANSWERS)

    # Its documents: real PDF files, stored intact, « en attente » and downloadable (the demo has no antivirus).
    attachments = Attachment.objects.filter(indicator_value__self_evaluation=earlier).select_related(
        "document", "indicator_value__indicator"
    )
    listed = {}
    for attachment in attachments.order_by("attached_at", "pk"):
        listed.setdefault(attachment.indicator_value.indicator.code, []).append(attachment.document.original_name)
    assert listed == {
        code: [name.format(year=year) for name in names] for code, _, _, names in EARLIER_ANSWERS if names
    }
    for attachment in attachments:
        document = attachment.document
        assert attachment.withdrawn_at is None and attachment.attached_by == demo_user
        assert (document.scan_status, document.mime_type, document.contract) == (
            ScanStatus.EN_ATTENTE,
            "application/pdf",
            None,
        )
        assert may_download(document)
        with document.file.open("rb") as stored:
            content = stored.read()
        assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
        assert hashlib.sha256(content).hexdigest() == document.sha256
    # Documents of an earlier year are never withdrawn.
    with pytest.raises(DocumentRefused, match="années précédentes"):
        withdraw(attachments.first(), acting_user=demo_user)

    # The current campaign is untouched: one saved answer still shows 5 %.
    assert not IndicatorValue.objects.filter(self_evaluation=current).answered().exists()


def test_the_current_questions_show_the_year_before(client_for):
    """What the demo is for: « Années précédentes », « Commentaire évalué N-1 » and last year's documents."""
    seed(password=PASSWORD)
    current, earlier = the_two_years()
    demo_user = User.objects.get(email=DEMO_USER_EMAIL)
    User.objects.filter(pk=demo_user.pk).update(password_must_change=False)
    page = client_for(demo_user).get(reverse("evaluation:question", args=[current.public_id, "2.1.1.a"]))
    year = earlier.campaign.year
    assertContains(page, f'<label class="fr-label" for="id_comment">Commentaire évalué {year + 1} ')
    assertContains(
        page,
        "<div><dt>Commentaire évalué N-1</dt><dd>Groupe de travail sur les anticoagulants oraux réuni le 14 mars "
        f"{year}, plan d&#x27;actions validé en COMEDIMS.</dd></div>",
        html=True,
    )
    assertContains(page, "Années précédentes")
    assertContains(page, f"<div><dt>Année</dt><dd>{year}</dd></div>", html=True)
    assertContains(page, f"Compte rendu du groupe de travail {year}.pdf")
    assertContains(page, f"Plan d&#x27;actions anticoagulants {year}.pdf")
    assertNotContains(page, "Retirer")  # nothing of this year's yet, and last year's never


def test_seed_demo_users_and_their_access():
    seed(password=PASSWORD)

    demo_user = User.objects.get(email=DEMO_USER_EMAIL)
    assert demo_user.check_password(PASSWORD)
    assert demo_user.password_must_change
    assert demo_user.temporary_password_expires_at > timezone.now()
    assert Membership.objects.get(user=demo_user).ej.finess == "380780080"

    other_user = User.objects.get(email=OTHER_USER_EMAIL)
    assert [m.ej.finess for m in other_user.memberships.all()] == ["340780477"]

    ars_user = User.objects.get(email=ARS_USER_EMAIL)
    assert ars_user.is_agency_staff
    assert ars_user.region.name == "Occitanie"
    assert ars_user.staff_role == "ars"
    assert ars_user.has_perm("evaluation.reopen_selfevaluation")
    # Every demo account has its address row (allauth lifts the login lockout through it).
    assert EmailAddress.objects.filter(user__in=[demo_user, other_user, ars_user]).count() == 3
    # The admin requires TOTP: the demo agent has an authenticator.
    assert Authenticator.objects.filter(user=ars_user, type=Authenticator.Type.TOTP).exists()


def test_seed_demo_without_password_prints_a_fresh_temporary_password_once(capsys):
    call_command("seed_demo")
    first_output = capsys.readouterr().out
    assert DEMO_USER_EMAIL in first_output
    password = first_output.split(f"{DEMO_USER_EMAIL} / ")[1].split()[0]
    assert User.objects.get(email=DEMO_USER_EMAIL).check_password(password)

    call_command("seed_demo")
    assert "(inchangé)" in capsys.readouterr().out
    assert User.objects.get(email=DEMO_USER_EMAIL).check_password(password)


def test_seed_demo_isolates_the_two_establishments(client):
    seed(password=PASSWORD)
    other_user = User.objects.get(email=OTHER_USER_EMAIL)
    User.objects.filter(pk=other_user.pk).update(password_must_change=False)  # as after the first renewal
    client.force_login(other_user)
    response = client.get(reverse("contracts:home"))
    assertContains(response, "CHU DE MONTPELLIER")
    assertNotContains(response, "GRENOBLE")


@pytest.mark.slow_subprocess
def test_the_readme_demo_path_works_on_a_fresh_sqlite_database(tmp_path: Path):
    """What `make demo` does: migrate a new SQLite database and seed it, with no other set-up."""
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        # The demo stores its earlier year's documents: here, not in the project's private/ folder.
        "DOCUMENTS_ROOT": str(tmp_path / "documents"),
        "SECRET_KEY": "demo-test",
        "HTTPS": "false",
        "DJANGO_SETTINGS_MODULE": "ecars.settings",
    }
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=tmp_path)
    result = subprocess.run(
        [*manage, "seed_demo", "--password", PASSWORD],
        env=env,
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert f"{DEMO_USER_EMAIL} / {PASSWORD}" in result.stdout
    assert any(path.is_file() for path in (tmp_path / "documents").rglob("*"))
    # The demo's user answers a question there: the save's locked reads are PostgreSQL's FOR UPDATE, which
    # SQLite does not know (a save answered 500 on the demo before).
    saved = subprocess.run(
        [*manage, "shell", "-c", SQLITE_SAVE],
        # DEBUG: the static files' unhashed names (`make demo` runs collectstatic, not needed for this).
        env={**env, "DEBUG": "1", "DEMO_USER_EMAIL": DEMO_USER_EMAIL},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert saved.returncode == 0, saved.stderr[-3000:]
    assert saved.stdout.splitlines()[-1] == "302 200 Réponse enregistrée. 1"


# Run by `manage.py shell -c` on the demo's SQLite database: the tree, a question, its save, the page after.
SQLITE_SAVE = """
import os
from django.test import Client
from django.urls import reverse
from accounts.models import User
from evaluation.models import IndicatorValue

user = User.objects.get(email=os.environ["DEMO_USER_EMAIL"])
User.objects.filter(pk=user.pk).update(password_must_change=False)
value = IndicatorValue.objects.filter(
    self_evaluation__contract__ej__memberships__user=user,
    self_evaluation__state="auto_evaluation",
    indicator__value_type="oui_non",
    etablissement__isnull=True,
).select_related("self_evaluation", "indicator").first()
client = Client(HTTP_HOST="localhost")
client.force_login(user)
public_id = value.self_evaluation.public_id
assert client.get(reverse("evaluation:indicators", args=[public_id])).status_code == 200
url = reverse("evaluation:question", args=[public_id, value.indicator.code])
saved = client.post(url, {"version": value.version, "value": "1", "comment": ""})
page = client.get(saved["Location"])
message = "Réponse enregistrée." if "Réponse enregistrée." in page.text else "pas de message"
value.refresh_from_db()
print(saved.status_code, page.status_code, message, value.value)
"""


def test_seed_demo_refuses_a_database_with_real_accounts():
    """The demo's accounts have known passwords: never on a production database."""
    real = UserFactory(email="agent.reel@ars.sante.fr")
    before = project_counts()
    with pytest.raises(CommandError) as refusal:
        call_command("seed_demo", password=PASSWORD)
    assert str(refusal.value).startswith(
        "Cette base contient 1 compte qui n'est pas de la démonstration (par exemple agent.reel@ars.sante.fr)"
    )
    assert project_counts() == before
    assert not User.objects.filter(email=DEMO_USER_EMAIL).exists()
    assert User.objects.get() == real


def test_seed_demo_gives_the_evaluators_and_a_closed_contract_to_evaluate():
    """Issue 12: an AM and an OMEDIT evaluator of the region (TOTP keys printed like the ARS agent's), and one
    contract already closed, so that the evaluation can be tried at once."""
    output = io.StringIO()
    call_command("seed_demo", password=PASSWORD, stdout=output)
    printed = output.getvalue()
    for email, role in ((AM_USER_EMAIL, "am"), (OMEDIT_USER_EMAIL, "omedit"), (ARS_USER_EMAIL, "ars")):
        agent = User.objects.get(email=email)
        assert agent.staff_role == role
        assert agent.region.name == "Occitanie"
        assert Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).exists()
        assert email in printed
    assert printed.count("Double authentification : clé « ") == 3
    closed = SelfEvaluation.objects.get(contract__name="CAQES CLINIQUE DU PARC")
    assert closed.state == SelfEvaluationState.CLOTUREE
    assert closed.receipts.exists()
    assert closed.closed_by.email == CLOSED_USER_EMAIL
    # The referential gives some questions to the AM and to the OMEDIT, besides the ARS.
    bodies = {node.code: node.evaluating_bodies for node in Node.objects.all()}
    assert bodies["4.1.1.a"] == ("ars", "am")
    assert bodies["3.1.1.a"] == ("ars", "omedit")
    assert bodies["1.1.1.a"] == ("ars",)
