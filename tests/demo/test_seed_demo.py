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
from contracts.models import Contract, EntiteJuridique, Membership
from demo.world import ARS_USER_EMAIL, DEMO_USER_EMAIL, OTHER_USER_EMAIL
from evaluation.enums import SelfEvaluationState
from evaluation.models import IndicatorValue, Node, SelfEvaluation
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
    assert first["contracts.EntiteJuridique"] == 2
    assert first["accounts.User"] == 3


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
    self_evaluation = SelfEvaluation.objects.get(contract=contract)
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
