"""Build the manual's demo world (DESIGN.md §6). Idempotent: a second run changes nothing.

The demo establishment user holds a temporary password that must be renewed at first login:
the one given with --password, or a random one printed on the first run.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.world import NotADemoDatabase, seed_demo


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help="Mot de passe (temporaire) des comptes de démonstration. Par défaut : un mot de passe aléatoire "
            "au premier lancement, inchangé ensuite.",
        )

    def handle(self, *args, password=None, **options):
        try:
            result = seed_demo(password=password)
        except NotADemoDatabase as refusal:
            raise CommandError(str(refusal)) from None
        shown = result.demo_password or "(inchangé)"
        self.stdout.write(self.style.SUCCESS("Monde de démonstration prêt."))
        self.stdout.write(f"Adresse : {settings.SITE_URL}/")
        self.stdout.write(f"Établissement (CHU DE GRENOBLE ALPES) : {result.demo_user.email} / {shown}")
        self.stdout.write(f"Autre établissement (CHU DE MONTPELLIER) : {result.other_user.email} / {shown}")
        self.stdout.write(f"Établissement au contrat clos (CLINIQUE DU PARC) : {result.closed_user.email} / {shown}")
        for label, user, secret in (
            ("Agent ARS", result.ars_user, result.ars_totp_secret),
            ("Évaluatrice Assurance Maladie", result.am_user, result.am_totp_secret),
            ("Évaluateur OMEDIT", result.omedit_user, result.omedit_totp_secret),
        ):
            self.stdout.write(f"{label} (administration) : {user.email} / {shown}")
            if secret:
                self.stdout.write(
                    f"  Double authentification : clé « {secret} » à saisir dans une application "
                    "d'authentification (FreeOTP, Aegis, Google Authenticator…)."
                )
        self.stdout.write(
            "Le mot de passe des établissements est temporaire : il faut le renouveler à la première connexion."
        )
