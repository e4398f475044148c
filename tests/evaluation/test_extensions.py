"""The calendar's exceptions: an establishment asks for an extension, the ARS grants or refuses it in the
admin, and reopens a closed self-evaluation; every step is logged, audited and told by e-mail.

Calendar of the tests: auto-évaluation from 1 March to 30 April 2026; « today » is 20 April 2026 unless
a test travels elsewhere.
"""

import datetime
import html
import zoneinfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from audit.enums import EventType
from audit.models import AuditEvent
from contracts.enums import MembershipRole
from evaluation import extensions, services
from evaluation.enums import ExtensionStatus, SelfEvaluationState
from evaluation.models import ExtensionRequest, SelfEvaluation, Transition
from evaluation.perms import abilities
from tests.accounts.factories import UserFactory
from tests.contracts.factories import ContractFactory, MembershipFactory
from tests.evaluation.factories import CampaignFactory, SelfEvaluationFactory


PARIS = zoneinfo.ZoneInfo("Europe/Paris")
START = datetime.date(2026, 3, 1)
DEADLINE = datetime.date(2026, 4, 30)
TODAY = datetime.date(2026, 4, 20)
REASON = "Départ en congé du référent qualité : les données de pharmacie arrivent en mai."


def at(day: datetime.date):
    """Travel to 10:00 (Paris) on `day`."""
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(10), tzinfo=PARIS), tick=False)


@pytest.fixture(autouse=True)
def _today():
    with at(TODAY):
        yield


@pytest.fixture
def ars_contact(region):
    return UserFactory(ars_staff=True, region=region, email="referent.caqes@ars.sante.fr")


@pytest.fixture
def self_evaluation(ej, region, ars_contact):
    contract = ContractFactory(ej=ej, ars_contact=ars_contact, name="CAQES CHU TEST")
    campaign = CampaignFactory(
        name="CAQES 2025",
        regions=[region],
        contract_type=contract.contract_type,
        year=2025,
        precampaign_start=datetime.date(2026, 1, 15),
        precampaign_end=datetime.date(2026, 2, 15),
        self_assessment_start=START,
        self_assessment_deadline=DEADLINE,
    )
    return SelfEvaluationFactory(contract=contract, campaign=campaign)


@pytest.fixture
def contributor(ej):
    return MembershipFactory(ej=ej, role=MembershipRole.CONTRIBUTEUR, user__email="contributrice@chu.fr").user


def make_request(self_evaluation, user, *, until=datetime.date(2026, 5, 20), reason=REASON):
    return ExtensionRequest.objects.create(
        self_evaluation=self_evaluation, requested_by=user, requested_until=until, reason=reason
    )


def request_url(self_evaluation):
    return reverse("evaluation:request_extension", args=[self_evaluation.public_id])


def contract_url(self_evaluation):
    return reverse("contracts:contract_detail", args=[self_evaluation.contract.public_id])


def text(response) -> str:
    """The page as read, entities decoded: « l'ARS », not « l&#x27;ARS »."""
    return html.unescape(response.content.decode())


def banner(response) -> str:
    content = text(response)
    start = content.index('<p class="ecars-state-banner__title">') + len('<p class="ecars-state-banner__title">')
    return content[start : content.index("</p>", start)]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def can_write(self_evaluation, today) -> bool:
    self_evaluation = SelfEvaluation.objects.select_related("campaign").get(pk=self_evaluation.pk)
    return abilities(self_evaluation, role=MembershipRole.SIGNATAIRE, today=today).write


# --- The establishment asks -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [MembershipRole.SIGNATAIRE, MembershipRole.CONTRIBUTEUR])
def test_signataire_or_contributeur_requests_an_extension(client_for, ej, self_evaluation, ars_contact, role):
    user = MembershipFactory(ej=ej, role=role).user
    client = client_for(user)
    page = client.get(request_url(self_evaluation))
    assert page.status_code == 200
    assert "Prolongation demandée jusqu'au" in text(page)
    assert "Motif" in text(page)

    response = client.post(request_url(self_evaluation), {"requested_until": "2026-05-20", "reason": REASON})

    assert response.status_code == 302
    assert response.url == contract_url(self_evaluation)
    [extension_request] = ExtensionRequest.objects.all()
    assert extension_request.requested_by == user
    assert extension_request.requested_until == datetime.date(2026, 5, 20)
    assert extension_request.reason == REASON
    assert extension_request.status == ExtensionStatus.EN_ATTENTE
    assert messages_of(response) == [
        "Votre demande de prolongation jusqu'au 20/05/2026 est envoyée à l'ARS : vous serez informé de sa "
        "décision par courriel."
    ]
    [event] = AuditEvent.objects.filter(event_type=EventType.EXTENSION_REQUESTED)
    assert (event.actor, event.ej) == (user, ej)
    assert event.data["requested_until"] == "2026-05-20"
    assert event.data["deadline"] == "2026-04-30"
    assert event.data["reason"] == REASON
    # Nothing changes in the calendar until the ARS decides.
    self_evaluation.refresh_from_db()
    assert self_evaluation.extended_until is None
    # The contract's ARS contact is told.
    [message] = mail.outbox
    assert message.to == [ars_contact.email]
    assert message.subject == f"[e-CARS] Demande de prolongation — {ej.finess} {ej.name} (CAQES CHU TEST)"
    assert "demande une prolongation de l'auto-évaluation" in message.body
    assert "Date limite actuelle : 30 avril 2026" in message.body
    assert "Prolongation demandée jusqu'au : 20 mai 2026" in message.body
    assert REASON in message.body
    admin_path = reverse("admin:evaluation_extensionrequest_change", args=[extension_request.pk])
    assert admin_path in message.body
    html_body = html.unescape(message.alternatives[0].content)
    assert "<strong>20 mai 2026</strong>" in html_body
    assert admin_path in html_body
    # The contract page shows the pending request, and no second link to ask.
    contract_page = text(client.get(contract_url(self_evaluation)))
    assert (
        "Demande de prolongation jusqu'au 20 mai 2026 envoyée le 20 avril 2026 : en attente de la décision de l'ARS."
        in contract_page
    )
    assert "Demander une prolongation" not in contract_page


def test_contract_page_offers_the_request_during_the_auto_evaluation(client_for, member, self_evaluation):
    content = text(client_for(member).get(contract_url(self_evaluation)))
    assert f'href="{request_url(self_evaluation)}"' in content
    assert "Demander une prolongation" in content


def test_request_goes_to_the_region_business_contact_when_the_contract_has_no_ars_contact(
    client_for, member, self_evaluation, region
):
    self_evaluation.contract.ars_contact = None
    self_evaluation.contract.save(update_fields=["ars_contact"])
    client_for(member).post(request_url(self_evaluation), {"requested_until": "2026-05-20", "reason": REASON})
    [message] = mail.outbox
    assert message.to == [region.business_email]


def test_lecteur_cannot_request_an_extension(client_for, ej, self_evaluation):
    """A reader sees the page without the form; a POST is refused with a message and stores nothing."""
    reader = MembershipFactory(ej=ej, role=MembershipRole.LECTEUR).user
    client = client_for(reader)
    page = text(client.get(request_url(self_evaluation)))
    assert extensions.NOT_A_CONTRIBUTOR in page
    assert 'name="requested_until"' not in page

    response = client.post(request_url(self_evaluation), {"requested_until": "2026-05-20", "reason": REASON})

    assert response.status_code == 200
    assert extensions.NOT_A_CONTRIBUTOR in response.context["form"].non_field_errors()
    assert not ExtensionRequest.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.EXTENSION_REQUESTED).exists()
    assert mail.outbox == []


def test_member_of_another_ej_gets_404(client_for, other_member, self_evaluation):
    """Another EJ's self-evaluation does not exist for this user: 404 to GET and POST, nothing stored."""
    client = client_for(other_member)
    assert client.get(request_url(self_evaluation)).status_code == 404
    response = client.post(request_url(self_evaluation), {"requested_until": "2026-05-20", "reason": REASON})
    assert response.status_code == 404
    assert not ExtensionRequest.objects.exists()


def test_anonymous_is_sent_to_the_login_page(client, self_evaluation):
    response = client.get(request_url(self_evaluation))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_closed_self_evaluation_cannot_be_extended(client_for, member, self_evaluation):
    SelfEvaluation.objects.filter(pk=self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=datetime.datetime(2026, 4, 15, 12, tzinfo=PARIS)
    )
    response = client_for(member).post(
        request_url(self_evaluation), {"requested_until": "2026-05-20", "reason": REASON}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Une prolongation ne se demande que pendant l'auto-évaluation : cette auto-évaluation est à l'état "
        "« Clôturée »."
    ]
    assert not ExtensionRequest.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("requested_until", "error"),
    [
        ("2026-04-30", "La date demandée doit être postérieure à la date limite actuelle, le 30/04/2026."),
        ("2026-04-10", "La date demandée doit être postérieure à la date limite actuelle, le 30/04/2026."),
        (
            "2026-06-30",
            "La prolongation ne peut pas dépasser 60 jours après la date limite actuelle : "
            "le 29/06/2026 au plus tard.",
        ),
        ("", "Indiquez la date jusqu'à laquelle vous demandez la prolongation."),
        ("31/02/2026", "Saisissez une date valide, par exemple 15/05/2026."),
    ],
    ids=["the-deadline", "before-the-deadline", "more-than-60-days", "empty", "not-a-date"],
)
def test_bad_dates_are_refused_and_the_typed_input_is_kept(
    client_for, member, self_evaluation, requested_until, error
):
    response = client_for(member).post(
        request_url(self_evaluation), {"requested_until": requested_until, "reason": REASON}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["requested_until"] == [error]
    content = text(response)
    assert "La demande n'a pas été envoyée : corrigez les champs signalés." in content
    assert f'value="{requested_until}"' in content or not requested_until
    assert REASON in content
    assert not ExtensionRequest.objects.exists()
    assert mail.outbox == []


def test_every_field_error_is_shown_at_once(client_for, member, self_evaluation):
    response = client_for(member).post(request_url(self_evaluation), {"requested_until": "", "reason": "Retard"})
    assert response.context["form"].errors == {
        "requested_until": ["Indiquez la date jusqu'à laquelle vous demandez la prolongation."],
        "reason": ["Expliquez le motif de votre demande en 10 caractères au moins."],
    }


def test_the_60_days_limit_itself_is_accepted(client_for, member, self_evaluation):
    response = client_for(member).post(
        request_url(self_evaluation), {"requested_until": "2026-06-29", "reason": REASON}
    )
    assert response.status_code == 302
    assert ExtensionRequest.objects.get().requested_until == datetime.date(2026, 6, 29)


def test_the_limit_counts_from_an_extension_already_granted(client_for, member, self_evaluation):
    SelfEvaluation.objects.filter(pk=self_evaluation.pk).update(extended_until=datetime.date(2026, 5, 15))
    client = client_for(member)
    response = client.post(request_url(self_evaluation), {"requested_until": "2026-05-10", "reason": REASON})
    assert response.context["form"].errors["requested_until"] == [
        "La date demandée doit être postérieure à la date limite actuelle, le 15/05/2026."
    ]
    response = client.post(request_url(self_evaluation), {"requested_until": "2026-07-14", "reason": REASON})
    assert response.status_code == 302


def test_past_date_after_an_old_deadline_is_refused(client_for, member, self_evaluation):
    """Requested after the deadline: the date must still be to come."""
    with at(datetime.date(2026, 5, 12)):
        response = client_for(member).post(
            request_url(self_evaluation), {"requested_until": "2026-05-05", "reason": REASON}
        )
    assert response.context["form"].errors["requested_until"] == ["La date demandée est déjà passée."]
    assert not ExtensionRequest.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", "Retard", "  En retard  "])
def test_a_short_reason_is_refused(client_for, member, self_evaluation, reason):
    response = client_for(member).post(
        request_url(self_evaluation), {"requested_until": "2026-05-20", "reason": reason}
    )
    assert response.status_code == 200
    [error] = response.context["form"].errors["reason"]
    assert error in {
        "Indiquez le motif de votre demande.",
        "Expliquez le motif de votre demande en 10 caractères au moins.",
    }
    assert 'value="2026-05-20"' in text(response)
    assert not ExtensionRequest.objects.exists()


def test_a_second_pending_request_is_refused(client_for, member, contributor, self_evaluation):
    make_request(self_evaluation, contributor)
    client = client_for(member)
    page = text(client.get(request_url(self_evaluation)))
    assert "est déjà en attente de la décision de l'ARS" in page
    assert 'name="requested_until"' not in page

    response = client.post(request_url(self_evaluation), {"requested_until": "2026-05-25", "reason": REASON})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Une demande de prolongation jusqu'au 20/05/2026 est déjà en attente de la décision de l'ARS : vous ne "
        "pouvez pas en envoyer une autre avant cette décision."
    ]
    assert ExtensionRequest.objects.count() == 1
    assert mail.outbox == []


def test_the_service_refuses_what_the_page_refuses(member, self_evaluation):
    """Commands and other callers get the same rules as the page."""
    with pytest.raises(extensions.ExtensionRefused) as refusal:
        extensions.request_extension(
            self_evaluation, acting_user=member, requested_until=datetime.date(2026, 7, 30), reason=REASON
        )
    assert refusal.value.field == "requested_until"
    with pytest.raises(extensions.ExtensionRefused) as refusal:
        extensions.request_extension(
            self_evaluation, acting_user=member, requested_until=datetime.date(2026, 5, 20), reason="court"
        )
    assert refusal.value.field == "reason"
    assert not ExtensionRequest.objects.exists()


def test_page_lists_past_decisions(client_for, member, ars_staff, self_evaluation):
    refused = make_request(self_evaluation, member, until=datetime.date(2026, 6, 20))
    extensions.decide_extension(
        refused, acting_user=ars_staff, grant=False, decision_reason="Délai trop long pour la campagne."
    )
    content = text(client_for(member).get(request_url(self_evaluation)))
    assert "20/06/2026" in content
    assert "Refusée le 20/04/2026" in content
    assert "Délai trop long pour la campagne." in content
    # Once refused, a new request may be sent.
    assert 'name="requested_until"' in content


# --- The ARS decides in the admin ---------------------------------------------------------------


def changelist_url():
    return reverse("admin:evaluation_extensionrequest_changelist")


def run_action(client, action, objects, **data):
    """Choose the action on the list (the intermediate page), then send its form if `data` is given."""
    selected = [obj.pk for obj in objects]
    page = client.post(changelist_url(), {"action": action, "_selected_action": selected, "index": 0})
    if not data:
        return page
    assert page.status_code == 200
    return client.post(changelist_url(), {"action": action, "_selected_action": selected, "apply": "1", **data})


def test_grant_extends_this_ej_and_writing_is_allowed_until_the_new_date(
    client_for, member, contributor, ars_staff, self_evaluation
):
    extension_request = make_request(self_evaluation, contributor)
    after_the_deadline = datetime.date(2026, 5, 10)
    assert not can_write(self_evaluation, after_the_deadline)
    client = client_for(ars_staff)

    page = run_action(client, "grant_extensions", [extension_request])
    assert page.status_code == 200
    content = text(page)
    assert "Accorder la prolongation" in content
    assert "Prolongation accordée jusqu'au" in content
    assert REASON in content
    assert ExtensionRequest.objects.get().status == ExtensionStatus.EN_ATTENTE

    response = run_action(client, "grant_extensions", [extension_request], until="", decision_reason="")

    assert response.status_code == 302
    extension_request.refresh_from_db()
    assert extension_request.status == ExtensionStatus.ACCORDEE
    assert extension_request.decided_by == ars_staff
    assert extension_request.decided_at is not None
    self_evaluation.refresh_from_db()
    assert self_evaluation.extended_until == datetime.date(2026, 5, 20)
    assert messages_of(response) == [f"Prolongation accordée jusqu'au 20/05/2026 : {self_evaluation}."]
    [event] = AuditEvent.objects.filter(event_type=EventType.EXTENSION_DECIDED)
    assert event.actor == ars_staff
    assert event.data["granted"] is True
    assert event.data["until"] == "2026-05-20"
    assert event.data["previous_deadline"] == "2026-04-30"
    # The calendar: open after the campaign's deadline, closed again after the extension.
    assert can_write(self_evaluation, after_the_deadline)
    assert can_write(self_evaluation, datetime.date(2026, 5, 20))
    assert not can_write(self_evaluation, datetime.date(2026, 5, 21))
    # … and so does the lock every save of the establishment takes.
    with at(after_the_deadline):
        services.lock_for_writing(self_evaluation.pk, acting_user=member)
    with at(datetime.date(2026, 5, 21)), pytest.raises(services.WriteRefused):
        services.lock_for_writing(self_evaluation.pk, acting_user=member)
    # The requester and the signataires are told, each in their own message.
    assert sorted(message.to[0] for message in mail.outbox) == sorted([contributor.email, member.email])
    assert all(len(message.to) == 1 for message in mail.outbox)
    message = mail.outbox[0]
    assert message.subject == "[e-CARS] Prolongation accordée jusqu'au 20 mai 2026 — CAQES CHU TEST"
    assert "la saisie est ouverte jusqu'au 20 mai 2026 au soir" in message.body
    assert "la saisie est ouverte jusqu'au <strong>20 mai 2026</strong> au soir" in html.unescape(
        message.alternatives[0].content
    )
    # The contract page says so, and the member writes after the campaign's deadline.
    with at(after_the_deadline):
        response = client_for(member).get(contract_url(self_evaluation))
    content = text(response)
    assert "prolongée pour votre établissement jusqu'au 20 mai 2026" in content
    assert "Prolongation accordée par l'ARS le 20 avril 2026" in content
    assert banner(response) == "Auto-Evaluation"
    with at(datetime.date(2026, 5, 21)):
        assert banner(client_for(member).get(contract_url(self_evaluation))) == "Consultation"


def test_grant_to_another_date_with_a_reason(client_for, member, ars_staff, self_evaluation):
    extension_request = make_request(self_evaluation, member)
    response = run_action(
        client_for(ars_staff),
        "grant_extensions",
        [extension_request],
        until="2026-05-12",
        decision_reason="Dix jours suffisent pour les données restantes.",
    )
    assert response.status_code == 302
    self_evaluation.refresh_from_db()
    assert self_evaluation.extended_until == datetime.date(2026, 5, 12)
    extension_request.refresh_from_db()
    assert extension_request.decision_reason == "Dix jours suffisent pour les données restantes."
    [message] = mail.outbox
    assert message.subject == "[e-CARS] Prolongation accordée jusqu'au 12 mai 2026 — CAQES CHU TEST"
    assert "Dix jours suffisent pour les données restantes." in message.body


def test_grant_to_a_date_before_the_deadline_is_refused_on_the_form(client_for, member, ars_staff, self_evaluation):
    extension_request = make_request(self_evaluation, member)
    response = run_action(
        client_for(ars_staff), "grant_extensions", [extension_request], until="2026-04-25", decision_reason=""
    )
    assert response.status_code == 200
    assert response.context["form"].errors["until"] == [
        "La date accordée doit être postérieure à la date limite actuelle, le 30/04/2026."
    ]
    assert ExtensionRequest.objects.get().status == ExtensionStatus.EN_ATTENTE
    assert mail.outbox == []


def test_refusal_needs_a_reason(client_for, member, ars_staff, self_evaluation):
    extension_request = make_request(self_evaluation, member)
    client = client_for(ars_staff)

    response = run_action(client, "refuse_extensions", [extension_request], decision_reason="  ")

    assert response.status_code == 200
    assert response.context["form"].errors["decision_reason"] == [extensions.DECISION_REASON_REQUIRED]
    assert ExtensionRequest.objects.get().status == ExtensionStatus.EN_ATTENTE
    with pytest.raises(extensions.ExtensionRefused):
        extensions.decide_extension(extension_request, acting_user=ars_staff, grant=False, decision_reason="")
    assert mail.outbox == []

    response = run_action(
        client, "refuse_extensions", [extension_request], decision_reason="La campagne régionale doit se terminer."
    )

    assert response.status_code == 302
    extension_request.refresh_from_db()
    assert extension_request.status == ExtensionStatus.REFUSEE
    assert extension_request.decision_reason == "La campagne régionale doit se terminer."
    self_evaluation.refresh_from_db()
    assert self_evaluation.extended_until is None
    [event] = AuditEvent.objects.filter(event_type=EventType.EXTENSION_DECIDED)
    assert event.data["granted"] is False
    assert event.data["reason"] == "La campagne régionale doit se terminer."
    [message] = mail.outbox
    assert message.to == [member.email]
    assert message.subject == "[e-CARS] Prolongation refusée — CAQES CHU TEST"
    assert "La date limite reste le 30 avril 2026." in message.body
    assert "La campagne régionale doit se terminer." in message.body
    assert "La campagne régionale doit se terminer." in html.unescape(message.alternatives[0].content)
    content = text(client_for(member).get(contract_url(self_evaluation)))
    assert (
        "Demande de prolongation jusqu'au 20 mai 2026 refusée par l'ARS le 20 avril 2026 : "
        "La campagne régionale doit se terminer." in content
    )


def test_a_decided_request_is_not_decided_again(client_for, member, ars_staff, self_evaluation):
    extension_request = make_request(self_evaluation, member)
    extensions.decide_extension(extension_request, acting_user=ars_staff, grant=False, decision_reason="Trop tard.")
    response = run_action(client_for(ars_staff), "grant_extensions", [extension_request], until="", decision_reason="")
    assert response.status_code == 302
    assert messages_of(response) == [f"{extension_request} : Cette demande a déjà été refusée le 20/04/2026."]
    extension_request.refresh_from_db()
    assert extension_request.status == ExtensionStatus.REFUSEE
    self_evaluation.refresh_from_db()
    assert self_evaluation.extended_until is None


def test_agency_staff_of_another_region_cannot_decide(client_for, member, other_region, self_evaluation):
    """Another region's request is a 404 in the admin, an action on it changes nothing, the service refuses."""
    extension_request = make_request(self_evaluation, member)
    foreign_agent = UserFactory(ars_staff=True, region=other_region)
    client = client_for(foreign_agent)
    change_url = reverse("admin:evaluation_extensionrequest_change", args=[extension_request.pk])
    assert client.get(change_url).status_code == 404
    run_action(client, "grant_extensions", [extension_request], until="", decision_reason="")
    run_action(client, "refuse_extensions", [extension_request], decision_reason="Refus venu d'ailleurs.")
    assert ExtensionRequest.objects.get().status == ExtensionStatus.EN_ATTENTE
    with pytest.raises(PermissionDenied):
        extensions.decide_extension(extension_request, acting_user=foreign_agent, grant=True, decision_reason="")
    with pytest.raises(PermissionDenied):
        extensions.decide_extension(extension_request, acting_user=member, grant=True, decision_reason="")
    self_evaluation.refresh_from_db()
    assert self_evaluation.extended_until is None
    assert mail.outbox == []


def test_extension_requests_are_never_deleted_nor_edited_in_the_admin(client_for, ars_staff, member, self_evaluation):
    extension_request = make_request(self_evaluation, member)
    client = client_for(ars_staff)
    change_url = reverse("admin:evaluation_extensionrequest_change", args=[extension_request.pk])
    assert client.get(change_url).status_code == 200
    assert client.post(change_url, {"status": ExtensionStatus.ACCORDEE}).status_code == 403
    delete_url = reverse("admin:evaluation_extensionrequest_delete", args=[extension_request.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert ExtensionRequest.objects.get().status == ExtensionStatus.EN_ATTENTE


def test_extension_request_list_filters_and_search(client_for, ars_staff, member, ej, self_evaluation):
    make_request(self_evaluation, member)
    client = client_for(ars_staff)
    assert client.get(changelist_url(), {"status__exact": "en_attente"}).context["cl"].result_count == 1
    assert client.get(changelist_url(), {"status__exact": "accordee"}).context["cl"].result_count == 0
    campaign_filter = {"self_evaluation__campaign__id__exact": self_evaluation.campaign_id}
    assert client.get(changelist_url(), campaign_filter).context["cl"].result_count == 1
    assert client.get(changelist_url(), {"q": ej.finess}).context["cl"].result_count == 1
    assert client.get(changelist_url(), {"q": ej.name}).context["cl"].result_count == 1


# --- The ARS reopens a closed self-evaluation ---------------------------------------------------------


@pytest.fixture
def closed(self_evaluation, member):
    """The self-evaluation, closed by the signataire on 15 April."""
    SelfEvaluation.objects.filter(pk=self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE,
        closed_at=datetime.datetime(2026, 4, 15, 12, tzinfo=PARIS),
        closed_by=member,
    )
    self_evaluation.refresh_from_db()
    return self_evaluation


def reopen_action(client, self_evaluation, **data):
    url = reverse("admin:evaluation_selfevaluation_changelist")
    selected = {"action": "reopen_self_evaluations", "_selected_action": [self_evaluation.pk]}
    page = client.post(url, {**selected, "index": 0})
    assert page.status_code == 200
    return client.post(url, {**selected, "apply": "1", **data})


def test_reopen_requires_a_reason(client_for, ars_staff, closed):
    client = client_for(ars_staff)
    response = reopen_action(client, closed, reason="", extend_until="")
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == [extensions.REOPEN_REASON_REQUIRED]
    with pytest.raises(extensions.ExtensionRefused):
        extensions.reopen(closed, acting_user=ars_staff, reason="  ")
    closed.refresh_from_db()
    assert closed.state == SelfEvaluationState.CLOTUREE
    assert not Transition.objects.exists()
    assert mail.outbox == []


def test_reopen_logs_the_transition_and_the_contract_page_is_writable_again(
    client_for, ars_staff, member, contributor, ej, closed
):
    client = client_for(member)
    assert banner(client.get(contract_url(closed))) == "Consultation"

    response = reopen_action(
        client_for(ars_staff), closed, reason="Erreur de saisie signalée sur l'indicateur 2.1.", extend_until=""
    )

    assert response.status_code == 302
    assert messages_of(response) == [
        f"Saisie rouverte : {closed}. L'établissement peut saisir jusqu'au 30/04/2026 ; ses signataires en sont "
        "informés par courriel."
    ]
    closed.refresh_from_db()
    assert closed.state == SelfEvaluationState.AUTO_EVALUATION
    [transition] = Transition.objects.all()
    assert transition.user == ars_staff
    assert transition.from_state == SelfEvaluationState.CLOTUREE
    assert transition.to_state == SelfEvaluationState.AUTO_EVALUATION
    assert transition.reason == "Erreur de saisie signalée sur l'indicateur 2.1."
    assert transition.created_at is not None
    [event] = AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED)
    assert (event.actor, event.ej) == (ars_staff, ej)
    assert event.data == {
        "from": SelfEvaluationState.CLOTUREE,
        "to": SelfEvaluationState.AUTO_EVALUATION,
        "reason": "Erreur de saisie signalée sur l'indicateur 2.1.",
    }
    assert banner(client.get(contract_url(closed))) == "Auto-Evaluation"
    # The signataires are told (not the contributor).
    [message] = mail.outbox
    assert message.to == [member.email]
    assert message.subject == "[e-CARS] Saisie rouverte — CAQES CHU TEST"
    assert "Erreur de saisie signalée sur l'indicateur 2.1." in message.body
    assert "Vous pouvez de nouveau saisir les indicateurs jusqu'au 30 avril 2026 au soir" in message.body
    assert "Erreur de saisie signalée sur l'indicateur 2.1." in html.unescape(message.alternatives[0].content)


def test_reopened_after_the_deadline_is_writable_only_with_an_extension(client_for, ars_staff, member, closed):
    after_the_deadline = datetime.date(2026, 5, 6)
    with at(after_the_deadline):
        response = reopen_action(client_for(ars_staff), closed, reason="Pièces manquantes.", extend_until="")
        assert banner(client_for(member).get(contract_url(closed))) == "Consultation"
    assert messages_of(response) == [
        f"Saisie rouverte : {closed}. La date limite (30/04/2026) est passée : l'établissement ne pourra saisir "
        "qu'avec une prolongation. Il peut la demander (« Demander une prolongation ») et vous pourrez "
        "l'accorder ; ses signataires sont informés par courriel."
    ]
    closed.refresh_from_db()
    assert closed.state == SelfEvaluationState.AUTO_EVALUATION
    assert not can_write(closed, after_the_deadline)
    [message] = mail.outbox
    assert "ne sera possible qu'avec une prolongation accordée par l'ARS" in message.body


def test_reopen_with_an_extension_grants_it_at_the_same_time(client_for, ars_staff, member, closed):
    pending = make_request(closed, member, until=datetime.date(2026, 5, 20))
    after_the_deadline = datetime.date(2026, 5, 6)
    with at(after_the_deadline):
        intermediate = client_for(ars_staff).post(
            reverse("admin:evaluation_selfevaluation_changelist"),
            {"action": "reopen_self_evaluations", "_selected_action": [closed.pk], "index": 0},
        )
        assert "Date limite passée : sans prolongation, l'établissement ne pourra pas saisir." in text(intermediate)
        response = reopen_action(client_for(ars_staff), closed, reason="Pièces manquantes.", extend_until="2026-05-18")
        assert banner(client_for(member).get(contract_url(closed))) == "Auto-Evaluation"
    assert messages_of(response) == [
        f"Saisie rouverte : {closed}. L'établissement peut saisir jusqu'au 18/05/2026 ; ses signataires en sont "
        "informés par courriel."
    ]
    closed.refresh_from_db()
    assert closed.extended_until == datetime.date(2026, 5, 18)
    assert can_write(closed, after_the_deadline)
    assert not can_write(closed, datetime.date(2026, 5, 19))
    # The pending request is granted by the same decision.
    pending.refresh_from_db()
    assert pending.status == ExtensionStatus.ACCORDEE
    assert pending.decision_reason == "Pièces manquantes."
    assert AuditEvent.objects.filter(event_type=EventType.EXTENSION_DECIDED).count() == 1
    assert AuditEvent.objects.filter(event_type=EventType.STATE_CHANGED).count() == 1
    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == [
        "[e-CARS] Prolongation accordée jusqu'au 18 mai 2026 — CAQES CHU TEST",
        "[e-CARS] Saisie rouverte — CAQES CHU TEST",
    ]


def test_reopen_with_an_extension_and_no_request_is_audited(ars_staff, closed, django_capture_on_commit_callbacks):
    with at(datetime.date(2026, 5, 6)), django_capture_on_commit_callbacks(execute=True):
        extensions.reopen(
            closed, acting_user=ars_staff, reason="Pièces manquantes.", extend_until=datetime.date(2026, 5, 18)
        )
    [event] = AuditEvent.objects.filter(event_type=EventType.EXTENSION_DECIDED)
    assert event.data["until"] == "2026-05-18"
    assert event.data["requested_until"] is None
    assert not ExtensionRequest.objects.exists()
    assert [message.subject for message in mail.outbox] == ["[e-CARS] Saisie rouverte — CAQES CHU TEST"]
    assert "jusqu'au 18 mai 2026" in mail.outbox[0].body


def test_reopen_with_an_extension_before_the_deadline_is_refused_on_the_form(client_for, ars_staff, closed):
    response = reopen_action(client_for(ars_staff), closed, reason="Pièces manquantes.", extend_until="2026-04-28")
    assert response.status_code == 200
    assert response.context["form"].errors["extend_until"] == [
        "La date accordée doit être postérieure à la date limite actuelle, le 30/04/2026."
    ]
    closed.refresh_from_db()
    assert closed.state == SelfEvaluationState.CLOTUREE
    assert not Transition.objects.exists()


def test_only_a_closed_self_evaluation_is_reopened(client_for, ars_staff, self_evaluation):
    response = reopen_action(client_for(ars_staff), self_evaluation, reason="Pour voir.", extend_until="")
    assert response.status_code == 302
    assert messages_of(response) == [
        f"{self_evaluation} : Seule une auto-évaluation clôturée peut être rouverte : celle-ci est à l'état "
        "« Auto-Evaluation »."
    ]
    assert not Transition.objects.exists()


def test_only_agency_staff_of_the_region_reopen(member, other_region, closed):
    foreign_agent = UserFactory(ars_staff=True, region=other_region)
    for user in (member, foreign_agent):
        with pytest.raises(PermissionDenied):
            extensions.reopen(closed, acting_user=user, reason="Réouverture non autorisée.")
    closed.refresh_from_db()
    assert closed.state == SelfEvaluationState.CLOTUREE


def test_grant_on_a_closed_self_evaluation_points_to_reopening(member, ars_staff, self_evaluation):
    extension_request = make_request(self_evaluation, member)
    SelfEvaluation.objects.filter(pk=self_evaluation.pk).update(
        state=SelfEvaluationState.CLOTUREE, closed_at=datetime.datetime(2026, 4, 18, 12, tzinfo=PARIS)
    )
    with pytest.raises(extensions.ExtensionRefused) as refusal:
        extensions.decide_extension(extension_request, acting_user=ars_staff, grant=True, decision_reason="")
    assert "« Rouvrir la saisie »" in str(refusal.value)
    assert ExtensionRequest.objects.get().status == ExtensionStatus.EN_ATTENTE


def test_self_evaluations_stay_read_only_in_the_admin(client_for, ars_staff, closed):
    """The reopening goes through the action: the change form itself refuses any change."""
    change_url = reverse("admin:evaluation_selfevaluation_change", args=[closed.pk])
    client = client_for(ars_staff)
    assert client.get(change_url).status_code == 200
    assert client.post(change_url, {"state": SelfEvaluationState.AUTO_EVALUATION}).status_code == 403
    closed.refresh_from_db()
    assert closed.state == SelfEvaluationState.CLOTUREE
