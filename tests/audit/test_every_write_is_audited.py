"""Every write path writes its audit event(s), in the same transaction as the change (issue 16).

Generated over the project, so that a new write path fails here until it is reviewed:
- every URL pattern that accepts POST (read from its decorators or its class) has a row in `WRITE_VIEWS` (a case that
  performs one valid write as the right user) or in `NOT_WRITES` (why it changes no data worth an event);
- every admin action of the registered admin site has a row in `ADMIN_ACTIONS` or `READ_ONLY_ACTIONS`, and Django's
  « supprimer » is run on every model the privilege table lets a role delete;
- every model the privilege table lets a role add or change is added and changed on its admin page by that role;
- every management command of the project's apps has a row in `WRITE_COMMANDS`, `COMMANDS_WRITING_NO_ROW` or
  `COMMANDS_WITHOUT_EVENT`.

Each write must change the data and leave exactly its events (one, or one per object or fact, said where it is more),
with the request's X-Request-ID for a view. « In the same transaction » is checked two ways: no event may be written
by the work a commit hands over (e-mails, tasks run on commit), and, for one view and one command, a commit refused
by PostgreSQL leaves neither the change nor its event. Only rows are counted (`AuditEvent.objects`): how an event is
written is audit/services.py's business.
"""

import contextlib
import datetime
import importlib
import io
import pkgutil
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.internal.userkit import user_id_to_str
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.test import Client as DjangoClient
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from contracts.models import IdentificationData, Membership
from documents.models import Document
from evaluation.enums import SelfEvaluationState
from evaluation.models import (
    Attachment,
    ExtensionRequest,
    IndicatorValue,
    Observation,
    SelfEvaluation,
)
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.helpers import GOOD_PASSWORD, last_code, log_in
from tests.accounts.test_my_account import current_totp_code
from tests.conftest import Client, log_in_with_totp
from tests.contracts.factories import ContractFactory, EtablissementFactory, MembershipFactory
from tests.documents.corpus import sample
from tests.ecars.test_privileges import admin_url
from tests.evaluation.factories import SelfEvaluationFactory
from tests.urlconf import named_patterns


REQUEST_ID = "audit-test-0123456789"


# --- Which URL patterns accept POST ------------------------------------------------------------------------


def accepted_methods(view) -> set[str] | None:
    """The HTTP methods `view` accepts, read from its class or from `require_http_methods` (and its
    `require_POST`/`require_safe` shortcuts) anywhere in its chain of decorators; None when nothing restricts them."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return {name.upper() for name in view_class.http_method_names if hasattr(view_class, name)}
    function = view
    while function is not None:
        code = getattr(function, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = function.__closure__[code.co_freevars.index("request_method_list")]
            return set(cell.cell_contents)
        function = getattr(function, "__wrapped__", None)
    return None


# The admin's pages of each model (list with its actions, add, change, delete) are covered model by model below,
# from the registry and the privilege table; « history » only reads.
ADMIN_MODEL_PAGE = re.compile(r"^admin:\w+_(changelist|add|change|delete|history)$")


def post_routes() -> set[str]:
    """The names of the URL patterns that accept POST (or any method), the admin's model pages left out.

    The first pattern of a name wins, as for `reverse()` (ours replace some of allauth's at its names)."""
    names = {}
    for name, pattern in named_patterns():
        names.setdefault(name, pattern.callback)
    routes = set()
    for name, view in names.items():
        methods = accepted_methods(view)
        if (methods is None or "POST" in methods) and not ADMIN_MODEL_PAGE.match(name):
            routes.add(name)
    return routes


# --- The world the cases write in --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one write left: its response (None for a command), the events it must have written, and a check
    that the data changed."""

    response: object
    events: int
    changed: Callable[[], bool]
    # Events that are by design written after the commit, by the work the commit hands over (a task).
    after_commit: tuple[str, ...] = ()


class World:
    """One EJ in `region` with a signataire who administers its members, a contract with a self-evaluation in
    auto-évaluation (the one of tests/evaluation/test_closure.py), and an ARS agent of the region."""

    def __init__(self, region, ej, member, client_for):
        from tests.evaluation.test_closure import World as ClosableWorld

        self.region, self.ej, self.member = region, ej, member
        # A client signed in as a user (staff past the TOTP step), as tests/conftest.py's `client_for` makes them.
        self.client = client_for
        Membership.objects.filter(user=member, ej=ej).update(is_admin=True)
        self.evaluation = ClosableWorld(ej, member)
        self.self_evaluation = self.evaluation.self_evaluation
        self.agent = UserFactory(ars_staff=True, region=region)
        self.national = UserFactory(national_admin=True)

    def post(self, client, url, data=None):
        """The write under test: the events it leaves are those written after this point, with its request's id.

        Its on-commit work (e-mails, tasks) runs after the events written in its transaction are counted: an event
        written by that work would be written after the commit, in a transaction of its own (`after_commit`)."""
        self.before = last_event_pk()
        plain = DjangoClient()  # the harness's client runs the on-commit work itself: not for this request
        plain.cookies = client.cookies
        with TestCase.captureOnCommitCallbacks() as callbacks:
            response = plain.post(url, data or {}, HTTP_X_REQUEST_ID=REQUEST_ID)
        in_transaction = new_events(self.before).count()
        with TestCase.captureOnCommitCallbacks(execute=True):
            for callback in callbacks:
                callback()
        self.after_commit = [event.event_type for event in new_events(self.before)[in_transaction:]]
        return response

    def question_url(self, name, value, *args):
        url = reverse(name, args=[self.self_evaluation.public_id, value.indicator.code, *args])
        return url + (f"?et={value.etablissement.finess}" if value.etablissement else "")


def one(response, changed, events=1):
    return Outcome(response, events, changed)


# --- The write views ---------------------------------------------------------------------------------------


def members(w):
    url = reverse("contracts:members", args=[w.ej.public_id])
    response = w.post(w.client(w.member), url, {"email": "nouvelle.collegue@chu-exemple.fr", "role": "lecteur"})
    # Two acts, two events: the membership (MEMBER_ADDED) and the invitation of the new account (INVITATION_SENT).
    return one(response, lambda: Membership.objects.filter(user__email="nouvelle.collegue@chu-exemple.fr").exists(), 2)


def change_member_role(w):
    colleague = w.evaluation.contributeur
    url = reverse("contracts:change_member_role", args=[w.ej.public_id])
    response = w.post(w.client(w.member), url, {"member": colleague.public_id, "role": "lecteur"})
    return one(response, lambda: colleague.memberships.get().role == MembershipRole.LECTEUR)


def remove_member(w):
    colleague = w.evaluation.contributeur
    url = reverse("contracts:remove_member", args=[w.ej.public_id])
    response = w.post(w.client(w.member), url, {"member": colleague.public_id})
    return one(response, lambda: not colleague.memberships.exists())


def identification(w):
    from tests.contracts.test_identification import VALID_DATA

    contract = ContractFactory(ej=w.ej)
    etablissement = EtablissementFactory(ej=w.ej)
    contract.etablissements.add(etablissement)
    today = timezone.localdate()
    SelfEvaluationFactory(
        contract=contract,
        campaign__precampaign_start=today - datetime.timedelta(days=2),
        campaign__precampaign_end=today + datetime.timedelta(days=5),
    )
    url = reverse("contracts:identification", args=[contract.public_id, etablissement.public_id])
    response = w.post(w.client(w.member), url, VALID_DATA)
    return one(response, lambda: IdentificationData.objects.filter(etablissement=etablissement).exists())


def question(w):
    value = w.evaluation.yes_no
    data = {"version": value.version, "value": "0", "not_applicable_reason": "", "comment": "Revu en COMEDIMS"}
    response = w.post(w.client(w.member), w.question_url("evaluation:question", value), data)
    return one(response, lambda: IndicatorValue.objects.get(pk=value.pk).value == "0")


def close(w):
    response = w.post(w.client(w.member), reverse("evaluation:close", args=[w.self_evaluation.public_id]))
    return one(response, lambda: SelfEvaluation.objects.get(pk=w.self_evaluation.pk).state == "cloturee")


def request_extension(w):
    deadline = w.self_evaluation.campaign.self_assessment_deadline
    data = {"requested_until": (deadline + datetime.timedelta(days=15)).isoformat(), "reason": "Départ du référent."}
    response = w.post(
        w.client(w.member), reverse("evaluation:request_extension", args=[w.self_evaluation.public_id]), data
    )
    return one(response, lambda: ExtensionRequest.objects.filter(self_evaluation=w.self_evaluation).exists())


def question_upload(w):
    value = w.evaluation.yes_no
    files = {"documents": [SimpleUploadedFile("Preuve.pdf", sample("valid.pdf"))]}
    response = w.post(w.client(w.member), w.question_url("evaluation:question_upload", value), files)
    return one(response, lambda: Attachment.objects.filter(indicator_value=value).exists())


def _uploaded(w, value):
    from evaluation.attachments import upload_to_question

    upload = SimpleUploadedFile("Preuve.pdf", sample("valid.pdf"))
    return upload_to_question(upload, value=value, acting_user=w.member)


def question_attach(w):
    document = _uploaded(w, w.evaluation.yes_no)
    value = w.evaluation.text
    url = w.question_url("evaluation:question_attach", value)
    response = w.post(w.client(w.member), url, {"document": document.public_id})
    return one(response, lambda: Attachment.objects.filter(indicator_value=value, document=document).exists())


def question_withdraw(w):
    value = w.evaluation.yes_no
    document = _uploaded(w, value)
    response = w.post(w.client(w.member), w.question_url("evaluation:question_withdraw", value, document.public_id))
    return one(response, lambda: Attachment.objects.get(document=document).withdrawn_at is not None)


def contract_upload(w):
    contract = w.self_evaluation.contract
    files = {"documents": [SimpleUploadedFile("Avenant.pdf", sample("valid.pdf"))]}
    response = w.post(w.client(w.agent), reverse("documents:contract_upload", args=[contract.public_id]), files)
    return one(response, lambda: Document.objects.filter(contract=contract).exists())


def account(w):
    data = {"last_name": "Martin", "first_name": "Claire", "phone": "04 76 76 75 75"}
    response = w.post(w.client(w.member), reverse("accounts:account"), data)
    return one(response, lambda: User.objects.get(pk=w.member.pk).last_name == "Martin")


def end_session(w):
    other = Client()
    log_in(other, w.member.email, DEFAULT_PASSWORD)
    client = w.client()
    log_in(client, w.member.email, DEFAULT_PASSWORD)
    other_session = UserSession.objects.exclude(session_key=client.session.session_key).get(user=w.member)
    response = w.post(client, reverse("accounts:end_session"), {"session": other_session.pk})
    return one(response, lambda: not UserSession.objects.filter(pk=other_session.pk).exists())


def confirm_email_change(w):
    client = w.client(w.member)
    client.post(reverse("accounts:change_email"), {"email": "nouvelle@chu.fr", "password": DEFAULT_PASSWORD})
    response = w.post(client, reverse("accounts:confirm_email_change"), {"code": last_code("nouvelle@chu.fr")})
    return one(response, lambda: User.objects.get(pk=w.member.pk).email == "nouvelle@chu.fr")


def account_login(w):
    response = w.post(w.client(), reverse("account_login"), {"login": w.member.email, "password": DEFAULT_PASSWORD})
    return one(response, lambda: UserSession.objects.filter(user=w.member).exists())


def account_logout(w):
    client = w.client()
    log_in(client, w.member.email, DEFAULT_PASSWORD)
    key = client.session.session_key
    response = w.post(client, reverse("account_logout"))
    return one(response, lambda: not Session.objects.filter(session_key=key).exists())


def admin_logout(w):
    client = w.client(w.agent)
    key = client.session.session_key
    response = w.post(client, reverse("admin:logout"))
    return one(response, lambda: not Session.objects.filter(session_key=key).exists())


def account_change_password(w):
    data = {"oldpassword": DEFAULT_PASSWORD, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    response = w.post(w.client(w.member), reverse("account_change_password"), data)
    return one(response, lambda: User.objects.get(pk=w.member.pk).check_password(GOOD_PASSWORD))


def account_reset_password(w):
    client = w.client()
    response = w.post(client, reverse("account_reset_password"), {"email": w.member.email})
    # The request answers the same for every address (no enumeration): it keeps the code in the session and
    # queues its sending, sealed, as a task (run at once in the tests). The task, in the worker, sends the code to
    # an existing account only, then records RESET_CODE_SENT with the request's id: the event says the code went
    # out, so it comes after the commit, in the worker's transaction (accounts/reset_code.py `send_reset_code`).
    outcome = one(
        response,
        lambda: Session.objects.filter(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value).exists(),
    )
    outcome.after_commit = ("auth.reset_code_sent",)
    return outcome


def account_complete_password_reset(w):
    client = w.client()
    client.post(reverse("account_reset_password"), {"email": w.member.email})
    client.post(reverse("account_confirm_password_reset_code"), {"code": last_code(w.member.email)})
    data = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    response = w.post(client, reverse("account_complete_password_reset"), data)
    return one(response, lambda: User.objects.get(pk=w.member.pk).check_password(GOOD_PASSWORD))


# The evaluation's pages (issue 12), in the worlds of tests/evaluation/test_consolidation.py and test_contradictory.py,
# each in an EJ of its own.


def _consolidation_world(w):
    from tests.contracts.factories import EntiteJuridiqueFactory
    from tests.evaluation.test_consolidation import World as ConsolidationWorld

    return ConsolidationWorld(EntiteJuridiqueFactory(region=w.region))


def _contradictory_world(w, *, observed=True, sent=False):
    from tests.contracts.factories import EntiteJuridiqueFactory
    from tests.evaluation.test_contradictory import Contradictory

    world = Contradictory(EntiteJuridiqueFactory(region=w.region))
    if observed:
        world.observe("1.a")
    if sent:
        world.send()
    return world


def _admin_evaluation_url(name, self_evaluation, *args):
    return reverse(f"admin:evaluation_evaluation_{name}", args=[self_evaluation.pk, *args])


def evaluate_question(w):
    from evaluation.models import Decision

    world = _consolidation_world(w)
    SelfEvaluation.objects.filter(pk=world.self_evaluation.pk).update(state=SelfEvaluationState.CLOTUREE)
    value = world.values["1.a"]
    url = _admin_evaluation_url("evaluate_question", world.self_evaluation, value.pk)
    data = {"verdict": "atteint", "motivation": "", "private_note": "", "version": 0}
    response = w.post(w.client(world.ars), url, data)
    # The first decision also moves the self-evaluation « clôturée → en évaluation » (STATE_CHANGED).
    return one(response, lambda: Decision.objects.filter(value=value).exists(), 2)


def consolidate(w):
    from evaluation.models import Consolidation

    world = _consolidation_world(w)
    value = world.values["1.a"]
    data = {"value": value.pk, f"q{value.pk}-verdict": "atteint", f"q{value.pk}-version": 0}
    response = w.post(w.client(world.ars), _admin_evaluation_url("consolidate", world.self_evaluation), data)
    return one(response, lambda: Consolidation.objects.filter(value=value).exists())


def incentive(w):
    world = _consolidation_world(w)
    url = _admin_evaluation_url("incentive", world.self_evaluation)
    response = w.post(w.client(world.ars), url, {"amount": "12 345,5"})
    return one(response, lambda: SelfEvaluation.objects.get(pk=world.self_evaluation.pk).incentive_amount is not None)


def generate_report(w):
    from evaluation.models import Report

    world = _consolidation_world(w)
    world.consolidate_all()
    response = w.post(w.client(world.ars), _admin_evaluation_url("generate_report", world.self_evaluation))
    return one(response, lambda: Report.objects.filter(self_evaluation=world.self_evaluation).exists())


def send_report(w):
    world = _consolidation_world(w)
    world.consolidate_all()
    deadline = timezone.localdate() + datetime.timedelta(days=20)
    url = _admin_evaluation_url("send_report", world.self_evaluation)
    response = w.post(w.client(world.ars), url, {"deadline": f"{deadline:%Y-%m-%d}"})
    state = lambda: SelfEvaluation.objects.get(pk=world.self_evaluation.pk).state  # noqa: E731
    # Four facts, four events: a new version of the report (REPORT_GENERATED), its sending (REPORT_SENT), and the
    # two changes of state « en évaluation → rapport envoyé → période contradictoire » (STATE_CHANGED each).
    return one(response, lambda: state() == SelfEvaluationState.CONTRADICTOIRE, 4)


def send_observations(w):
    world = _contradictory_world(w)
    url = reverse("evaluation:send_observations", args=[world.self_evaluation.public_id])
    response = w.post(w.client(world.signataire), url)
    return one(response, lambda: Observation.objects.filter(status="envoyee").exists())


def answer_observation(w):
    world = _contradictory_world(w, sent=True)
    observation = Observation.objects.get(round__self_evaluation=world.self_evaluation)
    prefix = f"o{observation.pk}"
    data = {f"{prefix}-answer": "Nous maintenons la décision.", f"{prefix}-version": str(observation.version)}
    url = _admin_evaluation_url("answer_observation", world.self_evaluation, observation.pk)
    response = w.post(w.client(world.ars), url, data)
    return one(response, lambda: Observation.objects.get(pk=observation.pk).answered_at is not None)


def next_round(w):
    world = _contradictory_world(w, sent=True)
    world.answer(Observation.objects.get(round__self_evaluation=world.self_evaluation))
    deadline = timezone.localdate() + datetime.timedelta(days=10)
    url = _admin_evaluation_url("next_round", world.self_evaluation)
    response = w.post(w.client(world.ars), url, {"deadline": f"{deadline:%Y-%m-%d}"})
    # The new round's report is generated and sent (REPORT_GENERATED, REPORT_SENT), and the round's change of state
    # is recorded (STATE_CHANGED).
    return one(response, lambda: SelfEvaluation.objects.get(pk=world.self_evaluation.pk).contradictory_round == 2, 3)


def send_final_report(w):
    world = _contradictory_world(w, sent=True)
    world.answer(Observation.objects.get(round__self_evaluation=world.self_evaluation))
    response = w.post(w.client(world.ars), _admin_evaluation_url("send_final_report", world.self_evaluation))
    state = lambda: SelfEvaluation.objects.get(pk=world.self_evaluation.pk).state  # noqa: E731
    # The final version (REPORT_GENERATED), its sending (REPORT_SENT), « → définitive » (STATE_CHANGED).
    return one(response, lambda: state() == SelfEvaluationState.DEFINITIVE, 3)


def renew_password(w):
    User.objects.filter(pk=w.member.pk).update(password_must_change=True)
    data = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    response = w.post(w.client(w.member), reverse("accounts:renew_password"), data)
    return one(response, lambda: User.objects.get(pk=w.member.pk).check_password(GOOD_PASSWORD))


def accept_invitation(w):
    from django.core import mail

    from accounts import invitations

    newcomer = UserFactory(email="nouvelle.collegue@chu-exemple.fr")
    with TestCase.captureOnCommitCallbacks(execute=True):
        invitations.send_invitation(newcomer, acting_user=w.agent)
    [token] = re.findall(r"/compte/invitation/([\w-]+)/", mail.outbox[-1].body)  # only its hash is stored
    client = w.client()
    client.get(reverse("accounts:accept_invitation_token", args=[token]))
    data = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    response = w.post(client, reverse("accounts:accept_invitation"), data)
    # Accepting signs the newcomer in: INVITATION_ACCEPTED, then LOGIN_SUCCEEDED.
    return one(response, lambda: User.objects.get(pk=newcomer.pk).check_password(GOOD_PASSWORD), 2)


def _reauthenticated(w, user):
    client = w.client()
    log_in(client, user.email, DEFAULT_PASSWORD)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    return client


def mfa_activate_totp(w):
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    client = _reauthenticated(w, w.member)
    client.get(reverse("mfa_activate_totp"))
    code = current_totp_code(client.session[SECRET_SESSION_KEY])
    response = w.post(client, reverse("mfa_activate_totp"), {"code": code})
    return one(response, lambda: Authenticator.objects.filter(user=w.member, type="totp").exists())


def _with_totp(w, user):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def mfa_deactivate_totp(w):
    _with_totp(w, w.member)
    client = log_in_with_totp(Client(), w.member)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    response = w.post(client, reverse("mfa_deactivate_totp"))
    return one(response, lambda: not Authenticator.objects.filter(user=w.member, type="totp").exists())


def mfa_generate_recovery_codes(w):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    _with_totp(w, w.member)
    RecoveryCodes.activate(w.member)
    before = Authenticator.objects.get(user=w.member, type="recovery_codes").data
    client = log_in_with_totp(Client(), w.member)
    client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    response = w.post(client, reverse("mfa_generate_recovery_codes"))
    return one(response, lambda: Authenticator.objects.get(user=w.member, type="recovery_codes").data != before)


def mfa_authenticate(w):
    agent = UserFactory(ars_staff=True, region=w.region)
    secret = _with_totp(w, agent)
    client = w.client()
    log_in(client, agent.email, DEFAULT_PASSWORD)
    response = w.post(client, reverse("mfa_authenticate"), {"code": current_totp_code(secret)})
    return one(response, lambda: UserSession.objects.filter(user=agent).exists())


def workbook_upload(w):
    from tests.evaluation.test_workbook import download, fill, upload, upload_url, workbook

    client = w.client(w.member)
    data = fill(download(client, w.self_evaluation), {"1.c": {"Réalisé": "Revue de pertinence mensuelle"}})
    assert upload(client, w.self_evaluation, data).status_code == 200  # the preview: kept in the session
    response = w.post(client, upload_url(w.self_evaluation), {"confirm": "1", "sha256": workbook.sha256(data)})
    # One VALUE_SAVED per answer the workbook changed: one here.
    return one(response, lambda: IndicatorValue.objects.get(pk=w.evaluation.text.pk).value.startswith("Revue"))


def account_set_password(w):
    """allauth's « set a password », for a signed-in account without one: re-authenticating takes a second factor."""
    User.objects.filter(pk=w.member.pk).update(password="!unusable")
    w.member.refresh_from_db()
    _with_totp(w, w.member)
    client = w.client(w.member)
    session = client.session  # the code typed just now
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "mfa", "type": "totp", "at": time.time(), "reauthenticated": True}
    ]
    session["account_authentication_methods_user"] = user_id_to_str(w.member)
    session.save()
    data = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    response = w.post(client, reverse("account_set_password"), data)
    return one(response, lambda: User.objects.get(pk=w.member.pk).check_password(GOOD_PASSWORD))


def account_confirm_email(w):
    """allauth's confirmation link of an address (verification is off: no page sends one)."""
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC

    address = EmailAddress.objects.get(user=w.member)
    EmailAddress.objects.filter(pk=address.pk).update(verified=False)
    address.refresh_from_db()
    key = EmailConfirmationHMAC(address).key
    response = w.post(w.client(w.member), reverse("account_confirm_email", args=[key]))
    return one(response, lambda: EmailAddress.objects.get(pk=address.pk).verified)


# Imports from the admin: the upload previews (a pending file, or the parsed rows kept in the session), the
# confirmation writes. An import is one operation: one COMMAND_RUN event with its counts, not one per row.


def import_finess_confirm(w):
    from contracts.models import EntiteJuridique
    from tests.contracts.finess_extract import CHU_TOULOUSE
    from tests.contracts.finess_extract import sample as finess_sample

    client = w.client(w.national)
    upload = SimpleUploadedFile("etalab-cs1100507-stock.csv", finess_sample(), content_type="text/csv")
    preview = client.post(reverse("admin:contracts_entitejuridique_import_finess"), {"file": upload})
    token = preview.context["token"]
    response = w.post(client, reverse("admin:contracts_entitejuridique_import_finess_confirm"), {"token": token})
    return one(response, lambda: EntiteJuridique.objects.filter(finess=CHU_TOULOUSE).exists())


def referential_import_confirm(w):
    import hashlib

    from evaluation.models import Referential
    from tests.contracts.factories import ContractTypeFactory
    from tests.evaluation.test_import_referential import CAQES_CSV

    caqes = ContractTypeFactory(code="CAQES")
    client = w.client(w.national)
    content = CAQES_CSV.read_bytes()
    data = {"file": SimpleUploadedFile("caqes.csv", content), "contract_type": caqes.pk, "name": "CAQES national"}
    assert client.post(reverse("admin:evaluation_referential_import"), data).status_code == 200
    url = reverse("admin:evaluation_referential_import_confirm")
    response = w.post(client, url, {"sha256": hashlib.sha256(content).hexdigest()})
    return one(response, lambda: Referential.objects.filter(contract_type=caqes).exists())


# POST view name -> a case performing one valid write.
WRITE_VIEWS: dict[str, Callable[[World], Outcome]] = {
    "contracts:members": members,
    "contracts:change_member_role": change_member_role,
    "contracts:remove_member": remove_member,
    "contracts:identification": identification,
    "evaluation:question": question,
    "evaluation:close": close,
    "evaluation:request_extension": request_extension,
    "evaluation:question_upload": question_upload,
    "evaluation:question_attach": question_attach,
    "evaluation:question_withdraw": question_withdraw,
    "documents:contract_upload": contract_upload,
    "accounts:account": account,
    "accounts:end_session": end_session,
    "accounts:confirm_email_change": confirm_email_change,
    "account_login": account_login,
    "account_logout": account_logout,
    "admin:logout": admin_logout,
    "account_change_password": account_change_password,
    "account_reset_password": account_reset_password,
    "account_complete_password_reset": account_complete_password_reset,
    "evaluation:send_observations": send_observations,
    "evaluation:workbook_upload": workbook_upload,
    "accounts:renew_password": renew_password,
    "accounts:accept_invitation": accept_invitation,
    "mfa_activate_totp": mfa_activate_totp,
    "mfa_deactivate_totp": mfa_deactivate_totp,
    "mfa_generate_recovery_codes": mfa_generate_recovery_codes,
    "mfa_authenticate": mfa_authenticate,
    "account_set_password": account_set_password,
    "account_confirm_email": account_confirm_email,
    "admin:contracts_entitejuridique_import_finess_confirm": import_finess_confirm,
    "admin:evaluation_referential_import_confirm": referential_import_confirm,
    "admin:evaluation_evaluation_evaluate_question": evaluate_question,
    "admin:evaluation_evaluation_consolidate": consolidate,
    "admin:evaluation_evaluation_incentive": incentive,
    "admin:evaluation_evaluation_generate_report": generate_report,
    "admin:evaluation_evaluation_send_report": send_report,
    "admin:evaluation_evaluation_send_final_report": send_final_report,
    "admin:evaluation_evaluation_answer_observation": answer_observation,
    "admin:evaluation_evaluation_next_round": next_round,
}

# POST-accepting views that change no data worth an event. Each needs a reason; a session or a cache entry is
# not business data (the session of a login is, and the login is audited).
NOT_WRITES = {
    "accounts:refresh_session": "renews the idle delay kept in the session, nothing else",
    "accounts:change_email": "step 1 keeps the new address and its code in the session; step 2 writes and audits",
    "account_email": "our change_email step 1 at allauth's address",
    "account_confirm_password_reset_code": "checks the code into the session; the reset itself is audited",
    "account_reauthenticate": "records the re-authentication time in the session",
    "mfa_reauthenticate": "records the re-authentication time in the session",
    "account_request_reauthentication_code": "login and re-authentication by code are disabled",
    "account_confirm_reauthentication_code": "login and re-authentication by code are disabled",
    "account_confirm_login_code": "login by code is disabled",
    "account_signup": "sign-up is closed: accounts are created by agents or by invitation",
    "account_email_verification_sent": "an information page",
    "usersessions_list": "a redirect to « Mon compte »",
    "admin:index": "a page",
    "admin:app_list": "a page",
    "admin:jsi18n": "a script",
    "admin:autocomplete": "a search",
    "admin:view_on_site": "a redirect",
    "admin:password_change_done": "a redirect to the portal's page",
    "admin:login": "sends an anonymous visitor to the portal's login (allauth's secure_admin_login), which is audited",
    "admin:contracts_entitejuridique_import_finess": "the preview: the file waits in a private temporary folder",
    "admin:evaluation_referential_import": "the preview: the parsed file waits in the session",
}


def test_every_view_that_accepts_post_is_reviewed():
    """A new POST view fails here until it has a write case, or a reason why it writes nothing."""
    routes = post_routes()
    reviewed = set(WRITE_VIEWS) | set(NOT_WRITES)
    assert routes - reviewed == set(), "POST views without a case in WRITE_VIEWS (or a reason in NOT_WRITES)"
    assert reviewed - routes == set(), "rows naming no POST view: remove them"
    assert not set(WRITE_VIEWS) & set(NOT_WRITES)


def test_the_method_reader_sees_the_decorators():
    """The generated list is only as good as `accepted_methods`: a GET-only page is left out, a POST one kept."""
    routes = post_routes()
    assert {"contracts:home", "evaluation:receipt", "documents:download"}.isdisjoint(routes)
    assert {"contracts:remove_member", "evaluation:close", "account_login"} <= routes


@pytest.fixture
def world(region, ej, member, client_for, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    return World(region, ej, member, client_for)


def new_events(before):
    return AuditEvent.objects.filter(pk__gt=before).order_by("pk")


def last_event_pk():
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("name", sorted(WRITE_VIEWS))
def test_a_write_view_writes_its_events_with_the_request_id(name, world):
    outcome = WRITE_VIEWS[name](world)
    response = outcome.response
    assert response.status_code < 400, f"{name}: {response.status_code}"
    assert outcome.changed(), f"{name}: the write did not happen"
    assert response["X-Request-ID"] == REQUEST_ID
    events = list(new_events(world.before))
    assert len(events) == outcome.events, f"{name}: {[event.event_type for event in events]}"
    assert {event.request_id for event in events} == {REQUEST_ID}
    after_commit = tuple(world.after_commit)
    assert after_commit == outcome.after_commit, f"{name}: events written after the commit, outside its transaction"


# --- Admin actions -----------------------------------------------------------------------------------------


def admin_actions() -> set[str]:
    """`app_label.model.action` for every action of every registered model admin."""
    return {
        f"{model._meta.label_lower}.{name}"
        for model, model_admin in admin.site._registry.items()
        for _, name, _ in model_admin._get_base_actions()
    }


def run_action(w, model, action, objects, **form):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **form}
    return w.post(w.client(w.agent), url, data)


def _establishment_accounts(w, count=2):
    return [MembershipFactory(ej=w.ej, role=MembershipRole.LECTEUR).user for _ in range(count)]


def send_invitations(w):
    users = _establishment_accounts(w)
    response = run_action(w, User, "send_invitations", users)
    # One invitation, hence one event, per selected account.
    return one(response, lambda: all(user.invitations.exists() for user in users), len(users))


def send_temporary_passwords(w):
    users = _establishment_accounts(w)
    passwords = {user.pk: user.password for user in users}
    response = run_action(w, User, "send_temporary_passwords", users)
    return one(response, lambda: all(User.objects.get(pk=pk).password != old for pk, old in passwords.items()), 2)


def _closed_self_evaluations(w, count=2):
    return [
        SelfEvaluationFactory(closed=True, contract=ContractFactory(ej=w.ej), campaign=w.self_evaluation.campaign)
        for _ in range(count)
    ]


def reopen_self_evaluations(w):
    closed = _closed_self_evaluations(w)
    response = run_action(
        w, SelfEvaluation, "reopen_self_evaluations", closed, apply="1", reason="Pièce oubliée.", extend_until=""
    )
    reopened = SelfEvaluation.objects.filter(pk__in=[s.pk for s in closed], state=SelfEvaluationState.AUTO_EVALUATION)
    return one(response, lambda: reopened.count() == 2, 2)


def _extension_requests(w, count=2):
    deadline = w.self_evaluation.campaign.self_assessment_deadline
    return [
        ExtensionRequest.objects.create(
            self_evaluation=SelfEvaluationFactory(
                contract=ContractFactory(ej=w.ej, contract_type=w.self_evaluation.campaign.contract_type),
                campaign=w.self_evaluation.campaign,
            ),
            requested_by=w.member,
            requested_until=deadline + datetime.timedelta(days=10),
            reason="Départ du référent qualité.",
        )
        for _ in range(count)
    ]


def grant_extensions(w):
    requests = _extension_requests(w)
    until = (w.self_evaluation.campaign.self_assessment_deadline + datetime.timedelta(days=10)).isoformat()
    response = run_action(
        w, ExtensionRequest, "grant_extensions", requests, apply="1", until=until, decision_reason=""
    )
    decided = ExtensionRequest.objects.filter(pk__in=[r.pk for r in requests]).exclude(status="en_attente")
    return one(response, lambda: decided.count() == 2, 2)


def refuse_extensions(w):
    requests = _extension_requests(w)
    response = run_action(w, ExtensionRequest, "refuse_extensions", requests, apply="1", decision_reason="Trop tard.")
    decided = ExtensionRequest.objects.filter(pk__in=[r.pk for r in requests]).exclude(status="en_attente")
    return one(response, lambda: decided.count() == 2, 2)


def open_self_evaluations(w):
    from contracts.models import Contract

    campaign = w.self_evaluation.campaign
    contracts = [ContractFactory(ej=w.ej, contract_type=campaign.contract_type) for _ in range(2)]
    response = run_action(w, Contract, "open_self_evaluations", contracts)
    opened = SelfEvaluation.objects.filter(contract__in=contracts, campaign=campaign)
    return one(response, lambda: opened.count() == 2, 2)


ADMIN_ACTIONS: dict[str, Callable[[World], Outcome]] = {
    "accounts.user.send_invitations": send_invitations,
    "accounts.user.send_temporary_passwords": send_temporary_passwords,
    "evaluation.selfevaluation.reopen_self_evaluations": reopen_self_evaluations,
    "evaluation.extensionrequest.grant_extensions": grant_extensions,
    "evaluation.extensionrequest.refuse_extensions": refuse_extensions,
    "contracts.contract.open_self_evaluations": open_self_evaluations,
}
READ_ONLY_ACTIONS = {
    "evaluation.campaign.export_csv": "a download of the campaign's answers",
    "evaluation.campaign.export_xlsx": "a download of the campaign's answers",
}


# Django's « supprimer » (delete_selected) is offered on the models the privilege table lets a role delete: two
# objects of each, made here, are deleted at once. Nobody is offered it elsewhere (tests/ecars/test_privileges.py).


def _user_session(w):
    import uuid

    return UserSession.objects.create(
        user=w.member, session_key=uuid.uuid4().hex, ip="192.0.2.1", user_agent="Firefox"
    )


def _authenticator(w):
    user = UserFactory(ars_staff=True, region=w.region)
    _with_totp(w, user)
    return Authenticator.objects.get(user=user, type="totp")


def _administrative_contact(w):
    from tests.contracts.factories import AdministrativeContactFactory

    return AdministrativeContactFactory(contract=w.self_evaluation.contract)


DELETABLE = {
    "contracts.membership": lambda w: MembershipFactory(ej=w.ej, role=MembershipRole.LECTEUR),
    "contracts.administrativecontact": _administrative_contact,
    "usersessions.usersession": _user_session,
    "mfa.authenticator": _authenticator,
}


def deletable_models() -> set[str]:
    """The registered models a role may delete. An inline's rows (the DSFR's social links) are deleted from their
    parent's change page, which records one event for the parent, its message naming the rows deleted."""
    from ecars.privileges import PRIVILEGES

    registered = {model._meta.label_lower for model in admin.site._registry}
    return {
        label
        for label, by_role in PRIVILEGES.items()
        if label in registered and any("delete" in verbs for verbs in by_role.values())
    }


def test_every_admin_action_is_reviewed():
    deletes = {f"{label}.delete_selected" for label in deletable_models()}
    never_offered = {name for name in admin_actions() if name.endswith(".delete_selected")} - deletes
    reviewed = set(ADMIN_ACTIONS) | set(READ_ONLY_ACTIONS) | deletes | never_offered
    assert admin_actions() == reviewed
    assert set(DELETABLE) == deletable_models(), "a model someone may delete needs a maker in DELETABLE"


@pytest.mark.parametrize("label", sorted(DELETABLE))
def test_deleting_from_the_admin_writes_one_event_per_object(label, world):
    from ecars.privileges import PRIVILEGES, StaffRole
    from tests.ecars.test_privileges import make_staff

    model = apps.get_model(label)
    role = next(role for role in StaffRole if "delete" in PRIVILEGES[label].get(role, ()))
    world.agent = make_staff(role, world.region)
    objects = [DELETABLE[label](world), DELETABLE[label](world)]
    response = run_action(world, model, "delete_selected", objects, post="yes")
    assert response.status_code == 302, f"{label}: {response.status_code}"
    assert not model.objects.filter(pk__in=[obj.pk for obj in objects]).exists()
    events = list(new_events(world.before))
    assert len(events) == 2, f"{label}: {[(event.event_type, event.object_repr) for event in events]}"
    assert {event.object_id for event in events} == {str(getattr(obj, "public_id", None) or obj.pk) for obj in objects}
    assert {event.request_id for event in events} == {REQUEST_ID}
    assert world.after_commit == []


@pytest.mark.parametrize("name", sorted(ADMIN_ACTIONS))
def test_an_admin_action_writes_one_event_per_object(name, world):
    outcome = ADMIN_ACTIONS[name](world)
    assert outcome.response.status_code == 302, f"{name}: {outcome.response.status_code}"
    assert outcome.changed(), f"{name}: nothing was written"
    events = list(new_events(world.before))
    assert len(events) == outcome.events, f"{name}: {[event.event_type for event in events]}"
    assert {event.request_id for event in events} == {REQUEST_ID}
    after_commit = tuple(world.after_commit)
    assert after_commit == outcome.after_commit, f"{name}: events written after the commit, outside its transaction"
    assert {event.actor for event in events} == {world.agent}
    assert world.after_commit == [], f"{name}: events written after the commit, outside its transaction"


# --- Management commands -----------------------------------------------------------------------------------


PROJECT_APPS = ("accounts", "audit", "contracts", "documents", "evaluation", "demo", "ecars")


def project_commands() -> set[str]:
    names = set()
    for app in PROJECT_APPS:
        try:
            package = importlib.import_module(f"{app}.management.commands")
        except ModuleNotFoundError:
            continue
        names.update(module.name for module in pkgutil.iter_modules(package.__path__))
    return names


def run_command(name, *args):
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def cmd_close_overdue(region, tmp_path):
    from tests.evaluation.test_close_overdue import DEADLINE
    from tests.evaluation.test_close_overdue import World as OverdueWorld

    late = OverdueWorld(region).open
    run_command("close_overdue", "--wet-run", "--date", (DEADLINE + datetime.timedelta(days=1)).isoformat())
    closed = SelfEvaluation.objects.filter(pk=late.pk, state=SelfEvaluationState.CLOTUREE)
    return Outcome(None, 1, closed.exists)


def cmd_open_campaign(region, tmp_path):
    from tests.evaluation.test_open_campaign import START
    from tests.evaluation.test_open_campaign import World as OpeningWorld

    world = OpeningWorld()
    run_command("open_campaign", "caqes-2025", "--wet-run", "--date", START.isoformat())
    opened = SelfEvaluation.objects.filter(contract=world.contract, campaign__code="caqes-2025")
    # One CAMPAIGN_OPENED for the run, with its counts, and one STATE_CHANGED for the self-evaluation it opened.
    return Outcome(None, 2, opened.exists)


def cmd_send_reminders(region, tmp_path):
    from evaluation.models import Notice
    from tests.evaluation.test_reminders import DEADLINE
    from tests.evaluation.test_reminders import World as RemindersWorld

    world = RemindersWorld(region)
    run_command("send_reminders", "--wet-run", "--date", (DEADLINE - datetime.timedelta(days=30)).isoformat())
    # One NOTICES_QUEUED per self-evaluation told (its notices, one per recipient, are its rows).
    return Outcome(None, 1, Notice.objects.filter(self_evaluation=world.open).exists)


def cmd_import_finess(region, tmp_path):
    from contracts.models import EntiteJuridique
    from tests.contracts.finess_extract import CHU_TOULOUSE
    from tests.contracts.finess_extract import sample as finess_sample

    path = tmp_path / "etalab-cs1100507-stock.csv"
    path.write_bytes(finess_sample())
    run_command("import_finess", str(path), "--wet-run")
    # One COMMAND_RUN per import, with its counts (4 EJ, 5 ET created here), not one per row.
    return Outcome(None, 1, EntiteJuridique.objects.filter(finess=CHU_TOULOUSE).exists)


def cmd_import_referential(region, tmp_path):
    from evaluation.models import Referential
    from tests.contracts.factories import ContractTypeFactory
    from tests.evaluation.test_import_referential import CAQES_CSV

    ContractTypeFactory(code="CAQES")
    run_command("import_referential", str(CAQES_CSV), "--contract-type", "CAQES", "--wet-run")
    # One COMMAND_RUN per import (a referential of 23 nodes here), not one per node.
    return Outcome(None, 1, Referential.objects.filter(contract_type__code="CAQES").exists)


def cmd_recover_tasks(region, tmp_path):
    from django_tasks_db.models import DBTaskResult

    # A scan task whose worker was killed two hours ago: « RUNNING » for ever without the command.
    stuck = DBTaskResult.objects.create(
        status="RUNNING",
        started_at=timezone.now() - datetime.timedelta(hours=2),
        args_kwargs={"args": [], "kwargs": {"document_id": 1}},
        task_path="documents.antivirus.scan_document",
        worker_ids=["killed"],
        backend_name="default",
        run_after=timezone.now(),
    )
    run_command("recover_tasks", "--wet-run")
    # One COMMAND_RUN per run, naming the tasks put back, not one per task.
    return Outcome(None, 1, DBTaskResult.objects.filter(pk=stuck.pk, status="READY").exists)


def cmd_purge_orphan_files(region, tmp_path):
    import os

    from django.core.files.storage import storages
    from django.test import override_settings

    # A storage of this case's own: the shared test folder holds other tests' files, whose rows are rolled back.
    options = {"location": str(tmp_path / "documents-storage"), "base_url": None}
    storage_settings = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": options}
    with override_settings(STORAGES={**settings.STORAGES, "default": storage_settings, "documents": storage_settings}):
        storage = storages["documents"]
        # Two receipts of closures killed two hours ago, stored without their rows.
        paths = [
            storage.path(storage.save(f"receipts/orphan-{n}.pdf", SimpleUploadedFile("r", b"%PDF"))) for n in "ab"
        ]
        for path in paths:
            os.utime(path, (time.time() - 7200,) * 2)
        run_command("purge_orphan_files", "--wet-run")
    # One COMMAND_RUN per run, naming the files deleted, not one per file.
    return Outcome(None, 1, lambda: not any(os.path.exists(path) for path in paths))


WRITE_COMMANDS: dict[str, Callable] = {
    "close_overdue": cmd_close_overdue,
    "open_campaign": cmd_open_campaign,
    "send_reminders": cmd_send_reminders,
    "import_finess": cmd_import_finess,
    "import_referential": cmd_import_referential,
    "recover_tasks": cmd_recover_tasks,
    "purge_orphan_files": cmd_purge_orphan_files,
}
COMMANDS_WRITING_NO_ROW = {
    "check_documents": "compares the stored files with the database and reports",
    "purge_upload_temp_files": "removes the uploads a killed worker left in FILE_UPLOAD_TEMP_DIR: files, no row",
    "verify_backup": "checks a backup's files against its SHA256SUMS and manifest",
    "export_campaign": "writes a file of the campaign's answers, not the database",
    "backup": "pg_dump and a copy of the files: reads the database, writes outside it",
    "verify_audit": "recomputes the audit trail's hash chains and reports",
    "audit_head": "computes a day's digest of the audit trail, printed or written to a file",
    # To review with the audit trail's owner: a change of privileges is security-relevant, but it is made at
    # deploy time by the owner role, before the portal's role may write anything.
    "grant_app_role": "GRANTs the application role its privileges: DDL, no row",
}
# Commands that write without an event of their own, each for a reason.
COMMANDS_WITHOUT_EVENT = {
    # Each scan (a task, run by db_worker) records DOCUMENT_INFECTED when it finds malware; a clean or failed scan
    # only updates the document's scan status and date.
    "rescan_documents": "enqueues one scan task per document due",
    "seed_demo": "builds the demo world (refuses a database that is not empty or a demo one)",
}


def test_every_command_is_reviewed():
    """A new management command fails here until it has a case, or a reason why it writes nothing."""
    reviewed = set(WRITE_COMMANDS) | set(COMMANDS_WRITING_NO_ROW) | set(COMMANDS_WITHOUT_EVENT)
    assert project_commands() == reviewed


@pytest.mark.parametrize("name", sorted(WRITE_COMMANDS))
def test_a_command_writes_its_events_in_its_transactions(name, region, tmp_path):
    """A wet run leaves its events, without an author nor a request; none is written by the work that follows a
    commit (e-mails), which would be outside the change's transaction."""
    before = last_event_pk()
    with TestCase.captureOnCommitCallbacks() as callbacks:
        outcome = WRITE_COMMANDS[name](region, tmp_path)
    in_transactions = new_events(before).count()
    with TestCase.captureOnCommitCallbacks(execute=True):
        for callback in callbacks:
            callback()
    assert outcome.changed(), f"{name}: nothing was written"
    events = list(new_events(before))
    assert len(events) == outcome.events, f"{name}: {[event.event_type for event in events]}"
    assert in_transactions == len(events), f"{name}: events written after a commit"
    assert all(event.actor is None and event.request_id == "" for event in events)


# --- In the same transaction -------------------------------------------------------------------------------


@contextlib.contextmanager
def commit_refused():
    """A real failure after the audit write: PostgreSQL refuses the COMMIT of any transaction that wrote an event
    (a deferred constraint trigger, checked at commit time, after the change and its event were both written)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'commit refused by the test' USING ERRCODE = '23514'; END $$"
        )
        cursor.execute(
            "CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON audit_auditevent "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_commit()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_commit ON audit_auditevent")
            cursor.execute("DROP FUNCTION test_refuse_commit()")


@pytest.mark.django_db(transaction=True)
def test_a_view_whose_commit_fails_leaves_neither_the_change_nor_its_event(region, ej, member):
    """« Retirer » a member (contracts:remove_member): the removal and MEMBER_REMOVED commit together or not at all."""
    Membership.objects.filter(user=member, ej=ej).update(is_admin=True)
    colleague = MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR).user
    client = Client()
    client.force_login(member)
    events = AuditEvent.objects.count()
    url = reverse("contracts:remove_member", args=[ej.public_id])
    with commit_refused(), pytest.raises(IntegrityError, match="commit refused by the test"):
        client.post(url, {"member": colleague.public_id})
    assert colleague.memberships.filter(ej=ej).exists()
    assert AuditEvent.objects.count() == events
    # Without the failure, the same request removes and audits: the test above could not pass by accident.
    assert client.post(url, {"member": colleague.public_id}).status_code == 302
    assert not colleague.memberships.filter(ej=ej).exists()
    assert AuditEvent.objects.count() == events + 1


@pytest.mark.django_db(transaction=True)
def test_a_command_whose_commit_fails_leaves_neither_the_change_nor_its_event(region):
    """close_overdue: a self-evaluation is closed d'office with its event, or stays open without one."""
    from tests.evaluation.test_close_overdue import DEADLINE
    from tests.evaluation.test_close_overdue import World as OverdueWorld

    late = OverdueWorld(region).open
    day = (DEADLINE + datetime.timedelta(days=1)).isoformat()
    events = AuditEvent.objects.count()
    with commit_refused(), pytest.raises(CommandError):
        run_command("close_overdue", "--wet-run", "--date", day)
    assert SelfEvaluation.objects.get(pk=late.pk).state == SelfEvaluationState.AUTO_EVALUATION
    assert AuditEvent.objects.count() == events
    run_command("close_overdue", "--wet-run", "--date", day)
    assert SelfEvaluation.objects.get(pk=late.pk).state == SelfEvaluationState.CLOTUREE
    assert AuditEvent.objects.count() > events


# --- Admin pages of the models (add, change, delete) ------------------------------------------------------


def _field_value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return str(value)


def admin_form_data(response) -> dict:
    """What the browser would send back from an admin add or change page, as shown (inline formsets included)."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data = {}
    for form in forms:
        for name in form.fields:
            value = _field_value(form[name])
            if value != "":
                data[form.add_prefix(name)] = value
    return data


def admin_delete_contact(w):
    from contracts.models import AdministrativeContact
    from tests.contracts.factories import AdministrativeContactFactory

    contact = AdministrativeContactFactory(contract=w.self_evaluation.contract)
    response = w.post(w.client(w.agent), admin_url(AdministrativeContact, "delete", contact.pk), {"post": "yes"})
    return one(response, lambda: not AdministrativeContact.objects.filter(pk=contact.pk).exists())


@pytest.mark.parametrize("role", ["ars", "national_admin"])
def test_the_delete_page_writes_one_event(role, world):
    """The delete page of one object (the list's « supprimer » is checked model by model above)."""
    from tests.ecars.test_privileges import make_staff

    world.agent = make_staff(role, world.region)
    outcome = admin_delete_contact(world)
    assert outcome.response.status_code == 302
    assert outcome.changed()
    [event] = new_events(world.before)
    assert (event.event_type, event.data["action"], event.actor) == ("ops.admin_changed", "deleted", world.agent)
    assert event.request_id == REQUEST_ID and world.after_commit == []


def changeable_models() -> dict[str, str]:
    """Registered model label -> the first role the privilege table lets change it."""
    from ecars.privileges import PRIVILEGES, StaffRole

    registered = {model._meta.label_lower for model in admin.site._registry}
    return {
        label: next(role for role in StaffRole if "change" in by_role.get(role, ()))
        for label, by_role in PRIVILEGES.items()
        if label in registered and any("change" in verbs for verbs in by_role.values())
    }


# The change made on each model's page where appending to its first plain text field will not do: (field, new value).
CHANGES = {
    "accounts.loginpolicy": ("renewal_cutoff", "01/01/2025"),
    "contracts.entitejuridique": ("name", "CHU DE DEMONSTRATION"),
    "contracts.etablissement": ("name", "CHU SITE EST"),
    "contracts.identificationdata": ("beds_medicine", "123"),
    "contracts.membership": ("role", MembershipRole.LECTEUR),
    "contracts.region": ("name", "Occitanie (corrigé)"),
}


def _change_of(form, label):
    from django import forms as django_forms

    if label in CHANGES:
        return CHANGES[label]
    for name, field in form.fields.items():
        if type(field) is django_forms.CharField and not field.disabled and form[name].value():
            return name, f"{form[name].value()} (corrigé)"[: field.max_length]
    raise AssertionError(f"{label}: no text field to change: say what to change in CHANGES")


@pytest.mark.parametrize("label", sorted(changeable_models()))
def test_changing_any_model_in_the_admin_writes_one_event(label, world):
    """Generated over the privilege table: each model someone may change, changed on its admin page by that role."""
    from tests.ecars.test_privileges import every_object, make_staff

    model = apps.get_model(label)
    obj = every_object(world.region)[model]
    client = world.client(make_staff(changeable_models()[label], world.region))
    url = admin_url(model, "change", obj.pk)
    page = client.get(url)
    assert page.status_code == 200
    field, value = _change_of(page.context["adminform"].form, label)
    before = model._meta.get_field(field).value_from_object(obj)
    response = world.post(client, url, {**admin_form_data(page), field: value})
    errors = response.context.get("errors") if response.context else None
    assert response.status_code == 302, f"{label}: {response.status_code} {errors}"
    obj.refresh_from_db()
    assert model._meta.get_field(field).value_from_object(obj) != before
    events = list(new_events(world.before))
    assert len(events) == 1, f"{label}: {[(event.event_type, event.data) for event in events]}"
    assert events[0].request_id == REQUEST_ID
    assert world.after_commit == []
    # The audit admin is scoped by the event's EJ: without it, the region's ARS would not see the change.
    ej = obj if label == "contracts.entitejuridique" else getattr(obj, "ej", None)
    if ej is not None:
        assert events[0].ej_id == ej.pk, f"{label}: the event names no EJ"


def addable_models() -> dict[str, str]:
    """Registered model label -> the first role the privilege table lets add it (the login rule is a single row,
    which exists: nobody adds another)."""
    from ecars.privileges import PRIVILEGES, StaffRole

    registered = {model._meta.label_lower for model in admin.site._registry}
    return {
        label: next(role for role in StaffRole if "add" in by_role.get(role, ()))
        for label, by_role in PRIVILEGES.items()
        if label in registered and label != "accounts.loginpolicy" and any("add" in v for v in by_role.values())
    }


def _new_finess():
    from tests.contracts.factories import EtablissementFactory

    return EtablissementFactory.build().finess


# What a new object needs besides the values of the existing one (its unique fields, mostly).
NEW_VALUES = {
    "accounts.user": lambda world: {"email": "nouveau.compte@chu-exemple.fr"},
    "dsfr.dsfrconfig": lambda world: {"language": "en"},
    "contracts.region": lambda world: {"code": "93", "name": "Provence-Alpes-Côte d'Azur"},
    "contracts.entitejuridique": lambda world: {"finess": _new_finess()},
    "contracts.etablissement": lambda world: {"finess": _new_finess()},
    "contracts.identificationdata": lambda world: {"etablissement": EtablissementFactory(ej=world.ej).pk},
    "contracts.membership": lambda world: {"user": UserFactory().pk},
    "contracts.contracttype": lambda world: {"code": "CPOM"},
    "contracts.contract": lambda world: {"name": "Avenant 2026"},
    "evaluation.referential": lambda world: {"name": "Référentiel 2027"},
    "evaluation.node": lambda world: {"code": "9.z"},
    "evaluation.campaign": lambda world: {"code": "caqes-2027"},
}
# A new account is invited at once unless the agent unticks « envoyer une invitation »: ACCOUNT_CHANGED (created)
# and INVITATION_SENT, two facts.
EVENTS_OF_AN_ADDITION = {"accounts.user": 2}


@pytest.mark.parametrize("label", sorted(addable_models()))
def test_adding_any_model_in_the_admin_writes_one_event(label, world):
    """Generated over the privilege table: each model someone may add, added on its admin page by that role, with the
    values of an existing one and new ones for its unique fields."""
    from tests.ecars.test_privileges import every_object, make_staff

    model = apps.get_model(label)
    existing = every_object(world.region)[model]
    client = world.client(make_staff(addable_models()[label], world.region))
    change_page = client.get(admin_url(model, "change", existing.pk))
    fields = change_page.context["adminform"].form.fields
    values = {name: value for name, value in admin_form_data(change_page).items() if name in fields}
    add_page = client.get(admin_url(model, "add"))
    assert add_page.status_code == 200
    data = {**admin_form_data(add_page), **values, **NEW_VALUES.get(label, lambda world: {})(world)}
    count = model.objects.count()
    response = world.post(client, admin_url(model, "add"), data)
    errors = response.context.get("errors") if response.context else None
    assert response.status_code == 302, f"{label}: {response.status_code} {errors}"
    assert model.objects.count() == count + 1
    events = list(new_events(world.before))
    expected = EVENTS_OF_AN_ADDITION.get(label, 1)
    assert len(events) == expected, f"{label}: {[(event.event_type, event.data) for event in events]}"
    assert events[0].request_id == REQUEST_ID
    assert world.after_commit == []


def test_no_model_admin_bypasses_the_audited_log_methods():
    """Every registered model admin logs its writes through PrivilegedAdminMixin's methods, which audit them."""
    from ecars.admin import PrivilegedAdminMixin

    for model, model_admin in admin.site._registry.items():
        for method in ("log_addition", "log_change", "log_deletions"):
            owner = next(klass for klass in type(model_admin).__mro__ if method in vars(klass))
            assert owner is PrivilegedAdminMixin, f"{model._meta.label}.{method} is {owner.__name__}'s"
