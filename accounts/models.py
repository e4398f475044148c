import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.enums import UserKind
from ecars.privileges import StaffRole


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("Une adresse de messagerie est obligatoire.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def normalize_email(self, email):
        # The whole address is compared case-insensitively: store it lowercased.
        return super().normalize_email(email).strip().lower()

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("kind", UserKind.ARS)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


_ROLE_OF_KIND = {
    UserKind.ARS: StaffRole.ARS_AGENT,
    UserKind.AM: StaffRole.AM_EVALUATOR,
    UserKind.OMEDIT: StaffRole.OMEDIT_EVALUATOR,
}


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address.

    Establishment staff (kind « établissement ») reach EJ through their memberships. ARS, Assurance
    Maladie and OMEDIT staff belong to one region and work in the admin.
    """

    public_id = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("adresse de messagerie", max_length=254, unique=True)
    first_name = models.CharField("prénom", max_length=150, blank=True)
    last_name = models.CharField("nom", max_length=150, blank=True)
    phone = models.CharField("téléphone", max_length=20, blank=True)
    kind = models.CharField("type de compte", max_length=20, choices=UserKind.choices, default=UserKind.ETABLISSEMENT)
    region = models.ForeignKey(
        "contracts.Region",
        verbose_name="région",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text="Région de rattachement des agents ARS, Assurance Maladie et OMEDIT.",
    )
    is_staff = models.BooleanField(
        "accès à l'administration",
        default=False,
        help_text="Permet d'ouvrir l'interface d'administration (agents ARS, AM, OMEDIT).",
    )
    is_active = models.BooleanField(
        "actif", default=True, help_text="Décocher plutôt que supprimer : l'historique reste attribué."
    )
    date_joined = models.DateTimeField("date de création", default=timezone.now)
    # The manual's first login: a temporary password received by e-mail must be renewed before
    # anything else, and stops working after its expiry.
    password_must_change = models.BooleanField(
        "mot de passe à renouveler",
        default=False,
        help_text="L'utilisateur doit choisir un nouveau mot de passe à sa prochaine connexion.",
    )
    temporary_password_expires_at = models.DateTimeField(
        "expiration du mot de passe temporaire", null=True, blank=True
    )
    password_changed_at = models.DateTimeField("dernier changement du mot de passe", null=True, blank=True)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = "utilisateur"
        verbose_name_plural = "utilisateurs"
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(kind=UserKind.ETABLISSEMENT)
                | models.Q(region__isnull=False)
                | models.Q(is_superuser=True),
                name="accounts_user_staff_has_region",
                violation_error_message="Un agent ARS, Assurance Maladie ou OMEDIT doit avoir une région.",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)

    @property
    def is_establishment_user(self) -> bool:
        return self.kind == UserKind.ETABLISSEMENT

    @property
    def is_agency_staff(self) -> bool:
        """ARS, Assurance Maladie or OMEDIT staff with access to the admin."""
        return self.kind != UserKind.ETABLISSEMENT and self.is_staff and self.is_active

    @property
    def staff_role(self) -> StaffRole | None:
        """The role that decides this account's powers (ecars/privileges.py), None for establishment users.

        Superusers are the national administrators; agents hold the role of their body in their region.
        """
        if not (self.is_active and self.is_staff):
            return None
        if self.is_superuser:
            return StaffRole.NATIONAL_ADMIN
        if self.region_id is None:
            return None
        return _ROLE_OF_KIND.get(self.kind)

    @property
    def is_national_admin(self) -> bool:
        return self.staff_role == StaffRole.NATIONAL_ADMIN

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name.upper()}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email


class LoginPolicy(models.Model):
    """Portal-wide login rules set by the ARS (a single row).

    « Sans connexion depuis le <date>, merci de renouveler votre mot de passe » : an account whose
    last sign-in (or password change) precedes the cut-off must renew its password by e-mail code
    before signing in again.
    """

    renewal_cutoff = models.DateField(
        "renouvellement obligatoire sans connexion depuis le",
        null=True,
        blank=True,
        help_text="Les comptes sans connexion depuis cette date doivent renouveler leur mot de passe.",
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)
    updated_by = models.ForeignKey(
        "accounts.User", verbose_name="modifié par", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "règle de connexion"
        verbose_name_plural = "règles de connexion"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="accounts_loginpolicy_single_row")]

    def __str__(self):
        return "Règles de connexion"

    @classmethod
    def current(cls) -> "LoginPolicy":
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class InvitationQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(used_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """A single-use link that lets a new user choose their password.

    Only the SHA-256 of the token is stored: the link itself exists only in the e-mail.
    """

    user = models.ForeignKey(
        "accounts.User", verbose_name="utilisateur", on_delete=models.CASCADE, related_name="invitations"
    )
    token_hash = models.CharField("empreinte du jeton", max_length=64, unique=True)
    created_by = models.ForeignKey(
        "accounts.User", verbose_name="invité par", on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField("envoyée le", auto_now_add=True)
    expires_at = models.DateTimeField("expire le")
    used_at = models.DateTimeField("utilisée le", null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = "invitation"
        verbose_name_plural = "invitations"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation de {self.user}"
