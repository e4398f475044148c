"""allauth's pages in the portal's DSFR layout and in French, rendered without a browser.

Each page is fetched through the real views (with --fail-on-template-vars), so a broken override or
element template fails here in a second; the element templates are also rendered on their own with every
kind of field. tests/e2e/test_allauth_pages.py checks the same pages with axe-core in a browser.
"""

import pytest
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django import forms
from django.core.cache import cache
from django.template import Context, Origin, Template, engines
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth counts attempts in the cache: start and leave each test with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user():
    """An ordinary establishment user, without a password to renew."""
    return UserFactory(password_must_change=False)


@pytest.fixture
def client(client_for, user):
    return client_for(user)


def current_totp_code(secret=TOTP_SECRET):
    counters = list(yield_hotp_counters_from_time())
    counter = counters[len(counters) // 2]  # the current period, whatever MFA_TOTP_TOLERANCE is
    return format_hotp_value(hotp_value(secret, counter))


def reauthenticate(client):
    """Confirm the password, as allauth asks before the MFA settings change."""
    response = client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content.decode()


def assert_in_layout(response, title, status_code=200):
    """The page is in the portal's layout (French, DSFR header and footer), with its own title."""
    assertContains(response, '<html lang="fr">', status_code=status_code)
    assertContains(response, f"<title>{title} — Extranet e-CARS</title>", html=True, status_code=status_code)
    assertContains(response, 'class="fr-header"', status_code=status_code)
    assertContains(response, 'id="pied-de-page"', status_code=status_code)
    assertContains(response, f"<h1>{title}</h1>", html=True, status_code=status_code)


def test_password_change_page_is_in_french_with_the_password_rules(client):
    response = client.get(reverse("account_change_password"))

    assert_in_layout(response, "Modifier mon mot de passe")
    for label in ("Mot de passe actuel", "Nouveau mot de passe", "Confirmer le nouveau mot de passe"):
        assertContains(response, label)
    assertContains(response, "Le mot de passe doit comporter entre 12 et 64 caractères")
    assertContains(response, 'id="regles-mot-de-passe"')
    # DSFR password inputs, the new one described by the rules.
    assertContains(response, 'class="fr-password fr-mb-3w"', count=3)
    assertContains(response, 'aria-describedby="regles-mot-de-passe"')
    assertContains(response, "Renouveler le mot de passe")
    assertNotContains(response, "placeholder=")


def test_password_change_with_a_wrong_current_password_shows_linked_errors(client):
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": "pas-le-bon-mot-de-passe", "password1": "Nouveau-mot-de-passe-7!", "password2": "autre"},
    )

    assert response.status_code == 200
    assertContains(response, "fr-input-group--error")
    assertContains(response, '<div class="fr-messages-group" id="id_oldpassword_error" aria-live="polite">')
    assertContains(response, 'aria-describedby="id_oldpassword_error"')
    assertContains(response, 'aria-invalid="true"')
    assertContains(response, "fr-message fr-message--error")


def test_reauthenticate_page(client):
    response = client.get(reverse("account_reauthenticate"))

    assert_in_layout(response, "Confirmer votre identité")
    assertContains(response, '<label class="fr-label" for="id_password">Mot de passe</label>', html=True)
    assertContains(response, '<button class="fr-btn" type="submit">Confirmer</button>', html=True)


def test_reauthenticate_with_a_wrong_password_shows_the_error(client):
    response = client.post(reverse("account_reauthenticate"), {"password": "pas-le-bon"})

    assert response.status_code == 200
    assertContains(response, 'id="id_password_error"')


def test_mfa_index_without_authenticator(client):
    response = client.get(reverse("mfa_index"))

    assert_in_layout(response, "Double authentification")
    assertContains(response, "Application d'authentification")
    assertContains(response, "Non activée")
    assertContains(response, "Codes de récupération")
    assertContains(response, f'<a class="fr-btn" href="{reverse("mfa_activate_totp")}">Activer</a>', html=True)


def test_totp_activation_asks_for_reauthentication_first(client):
    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_totp_activation_shows_the_qr_code_and_the_secret(client):
    reauthenticate(client)
    response = client.get(reverse("mfa_activate_totp"))

    assert_in_layout(response, "Activer l'application d'authentification")
    secret = response.context["form"].secret
    assertContains(response, 'src="data:image/svg+xml;base64,')
    assertContains(response, 'alt="QR code à scanner avec votre application d\'authentification"')
    assertContains(response, f"<code>{secret}</code>", html=True)
    assertContains(response, "Code de l'application d'authentification")
    assertContains(response, 'autocomplete="one-time-code"')


def test_totp_activation_with_a_wrong_code_shows_the_error(client):
    reauthenticate(client)
    client.get(reverse("mfa_activate_totp"))
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})

    assert response.status_code == 200
    assertContains(response, 'id="id_code_error"')
    assertContains(response, 'aria-describedby="id_code_helptext id_code_error"')


def test_totp_activation_then_recovery_codes_then_management_pages(client, user):
    reauthenticate(client)
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret

    response = client.post(reverse("mfa_activate_totp"), {"code": current_totp_code(secret)})
    assertRedirects(response, reverse("mfa_view_recovery_codes"), fetch_redirect_response=False)

    response = client.get(reverse("mfa_view_recovery_codes"))
    assert_in_layout(response, "Codes de récupération")
    assertContains(response, "Codes de récupération non utilisés")
    assertContains(response, "J'ai conservé mes codes de récupération en lieu sûr")
    assertContains(response, "ils ne seront plus affichés")

    response = client.get(reverse("mfa_index"))
    assertContains(response, "Activée")
    assertContains(response, "Il vous reste 10 codes de récupération sur 10.")
    assertContains(response, "Générer de nouveaux codes")

    response = client.get(reverse("mfa_deactivate_totp"))
    assert_in_layout(response, "Désactiver l'application d'authentification")
    assertContains(response, '<button class="fr-btn" type="submit">Désactiver</button>', html=True)

    response = client.get(reverse("mfa_generate_recovery_codes"))
    assert_in_layout(response, "Générer de nouveaux codes de récupération")
    assertContains(response, "Vos codes actuels ne seront plus valables.")

    response = client.get(reverse("mfa_reauthenticate"))
    assert_in_layout(response, "Confirmer votre identité")
    assertContains(response, "Code de l'application d'authentification ou code de récupération")
    assertContains(response, "Utiliser mon mot de passe")


def test_a_refused_deactivation_shows_the_reason_in_a_dsfr_alert_and_no_button(client, user, monkeypatch):
    """The form's own errors (the « fields » element) come as a DSFR error alert."""
    TOTP.activate(user, TOTP_SECRET)
    monkeypatch.setattr(DefaultMFAAdapter, "can_delete_authenticator", lambda self, authenticator: False)
    reauthenticate(client)

    response = client.get(reverse("mfa_deactivate_totp"))

    assertContains(response, '<div class="fr-alert fr-alert--error fr-alert--sm fr-mb-3w" role="alert">')
    assertContains(response, "Vous ne pouvez pas désactiver")
    assertNotContains(response, '<button class="fr-btn" type="submit">Désactiver</button>', html=True)


def test_mfa_authenticate_step_of_the_login(client_for, user):
    TOTP.activate(user, TOTP_SECRET)
    RecoveryCodes.activate(user)
    anonymous = client_for(None)

    response = anonymous.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
    assertRedirects(response, reverse("mfa_authenticate"), fetch_redirect_response=False)
    response = anonymous.get(reverse("mfa_authenticate"))
    assert_in_layout(response, "Double authentification")
    assertContains(response, "Code de l'application d'authentification ou code de récupération")
    assertContains(response, '<button class="fr-btn" type="submit">Se connecter</button>', html=True)

    response = anonymous.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200
    assertContains(response, 'id="id_code_error"')


def test_logout_confirmation_page(client):
    response = client.get(reverse("account_logout"))

    assert_in_layout(response, "Se déconnecter")
    assertContains(response, "Voulez-vous vraiment vous déconnecter d'e-CARS ?")


def test_account_inactive_page(client_for):
    response = client_for(None).get(reverse("account_inactive"))

    assert_in_layout(response, "Compte désactivé")
    assertContains(response, reverse("account_login"))


def test_signup_is_closed(client_for):
    response = client_for(None).get(reverse("account_signup"))

    assert_in_layout(response, "Création de compte impossible")
    assertContains(response, "les comptes sont créés par votre agence régionale")


def test_too_many_password_changes_give_the_french_429_page(client):
    data = {"oldpassword": "pas-le-bon-mot-de-passe", "password1": "x", "password2": "x"}
    for _ in range(5):  # ACCOUNT_RATE_LIMITS["change_password"]: 5 a minute
        assert client.post(reverse("account_change_password"), data).status_code == 200
    response = client.post(reverse("account_change_password"), data)

    assert response.status_code == 429
    assert_in_layout(response, "Trop de tentatives", status_code=429)
    assertContains(response, "Patientez quelques minutes", status_code=429)
    assertContains(response, reverse("account_reset_password"), status_code=429)
    assertContains(response, "Renouveler le mot de passe", status_code=429)


def test_too_many_renewal_requests_give_the_429_page_with_a_link_to_the_login(client_for, user):
    anonymous = client_for(None)
    for _ in range(3):  # ACCOUNT_RATE_LIMITS["reset_password"]: 3 an hour per address
        assert anonymous.post(reverse("account_reset_password"), {"email": user.email}).status_code == 302
    response = anonymous.post(reverse("account_reset_password"), {"email": user.email})

    assert response.status_code == 429
    assertContains(response, "<h1>Trop de tentatives</h1>", html=True, status_code=429)
    assertContains(response, f'href="{reverse("account_login")}"', status_code=429)
    assertContains(response, "Renouveler le mot de passe", status_code=429)


class SampleForm(forms.Form):
    email = forms.EmailField(label="Adresse de messagerie", help_text="Format attendu : nom@domaine.fr")
    password = forms.CharField(label="Mot de passe", widget=forms.PasswordInput(attrs={"placeholder": "Mot de passe"}))
    remember = forms.BooleanField(label="Se souvenir de moi", required=False)
    kind = forms.ChoiceField(label="Type", choices=[("a", "Établissement"), ("b", "ARS")], widget=forms.RadioSelect)
    region = forms.ChoiceField(label="Région", choices=[("76", "Occitanie"), ("84", "Auvergne-Rhône-Alpes")])
    notes = forms.CharField(label="Notes", widget=forms.Textarea, required=False)
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        raise forms.ValidationError("Le formulaire est refusé.")


def render_elements(source, **context):
    """Render allauth's {% element %} tags as its pages do (they need a template name)."""
    origin = Origin(name="tests/elements.html", template_name="tests/elements.html")
    template = Template("{% load allauth %}" + source, origin=origin, engine=engines["django"].engine)
    return template.render(Context(context))


def test_the_fields_element_gives_every_kind_of_field_its_dsfr_markup():
    form = SampleForm(data={"email": "pas-une-adresse", "kind": "a", "region": "76"})

    html = render_elements("{% element fields form=form %}{% endelement %}", form=form)

    assert '<div class="fr-alert fr-alert--error fr-alert--sm fr-mb-3w" role="alert">' in html
    assert "Le formulaire est refusé." in html
    assert 'type="hidden" name="token"' in html
    # A text input: hint, error linked by aria-describedby, no placeholder.
    assert '<div class="fr-input-group fr-input-group--error">' in html
    assert '<span class="fr-hint-text" id="id_email_helptext">Format attendu : nom@domaine.fr</span>' in html
    assert 'aria-describedby="id_email_helptext id_email_error"' in html
    assert '<div class="fr-messages-group" id="id_email_error" aria-live="polite">' in html
    # The DSFR password component.
    assert '<div class="fr-password fr-mb-3w fr-input-group--error" id="id_password-groupe">' in html
    assert 'class="fr-password__input fr-input"' in html
    assert "placeholder" not in html
    assert '<label class="fr-password__checkbox fr-label" for="id_password-afficher">Afficher</label>' in html
    # A checkbox, radio buttons in a fieldset, a select, a textarea.
    assert '<div class="fr-checkbox-group fr-mb-3w">' in html
    assert '<fieldset class="fr-fieldset" id="id_kind" aria-labelledby="id_kind-legende">' in html
    assert '<div class="fr-radio-group">' in html
    assert '<div class="fr-select-group">' in html
    assert 'class="fr-select"' in html
    assert '<textarea name="notes" cols="40" rows="10" class="fr-input" id="id_notes">' in html


def test_the_button_and_other_elements_in_dsfr():
    html = render_elements(
        """
        {% element button type="submit" %}Valider{% endelement %}
        {% element button href="/ailleurs/" tags="outline" %}Annuler{% endelement %}
        {% element button type="submit" form="autre" tags="link,cancel" %}Abandonner{% endelement %}
        {% element alert tags="warning" %}{% slot message %}Attention{% endslot %}{% endelement %}
        {% element badge tags="success" %}Vérifiée{% endelement %}
        {% element img src="data:image/png;base64,AA==" %}{% endelement %}
        {% element table %}{% element thead %}{% element tr %}{% element th %}Nom{% endelement %}{% endelement %}
        {% endelement %}{% endelement %}
        """
    )

    assert '<button class="fr-btn" type="submit">Valider</button>' in html
    assert '<a class="fr-btn fr-btn--secondary" href="/ailleurs/">Annuler</a>' in html
    assert '<button class="fr-btn fr-btn--tertiary-no-outline" type="submit" form="autre">Abandonner</button>' in html
    assert "fr-alert fr-alert--sm fr-mb-3w fr-alert--warning" in html
    assert "fr-badge fr-badge--sm fr-badge--no-icon fr-badge--success" in html
    assert '<img src="data:image/png;base64,AA==" alt="">' in html
    assert '<div class="fr-table fr-table--no-caption">' in html
    assert '<th scope="col">Nom</th>' in html
