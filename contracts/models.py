import uuid

from django.conf import settings
from django.db import models

from contracts.enums import ContractStatus, MembershipRole
from contracts.finess import FINESS_PATTERN, validate_finess


class Region(models.Model):
    """A region and its ARS, with the support contacts shown in « Un problème ? »."""

    code = models.CharField("code INSEE", max_length=3, unique=True)
    name = models.CharField("nom", max_length=100, unique=True)
    agency_name = models.CharField("agence", max_length=100, help_text="Par exemple : ARS Occitanie.")
    support_email = models.EmailField("e-mail du support technique", blank=True)
    support_phone = models.CharField("téléphone du support technique", max_length=20, blank=True)
    business_email = models.EmailField("e-mail du contact métier", blank=True)

    class Meta:
        verbose_name = "région"
        verbose_name_plural = "régions"
        ordering = ["name"]

    def __str__(self):
        return self.name


def _finess_constraint(name):
    return models.CheckConstraint(
        condition=models.Q(finess__regex=FINESS_PATTERN),
        name=name,
        violation_error_message="Numéro FINESS invalide.",
    )


class EntiteJuridiqueQuerySet(models.QuerySet):
    def for_user(self, user):
        """The EJ a user may see: their memberships, or their whole region for agency staff."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        if user.is_agency_staff:
            return self.filter(region_id=user.region_id)
        return self.filter(memberships__user=user)


class EntiteJuridique(models.Model):
    """A legal entity (EJ), identified by its FINESS juridique."""

    public_id = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    finess = models.CharField("FINESS juridique", max_length=9, unique=True, validators=[validate_finess])
    name = models.CharField("raison sociale", max_length=200)
    address = models.CharField("adresse", max_length=255, blank=True)
    postcode = models.CharField("code postal", max_length=5, blank=True)
    city = models.CharField("commune", max_length=100, blank=True)
    phone = models.CharField("téléphone", max_length=20, blank=True)
    region = models.ForeignKey(Region, verbose_name="région", on_delete=models.PROTECT, related_name="ejs")
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = EntiteJuridiqueQuerySet.as_manager()

    class Meta:
        verbose_name = "entité juridique (EJ)"
        verbose_name_plural = "entités juridiques (EJ)"
        ordering = ["finess"]
        constraints = [_finess_constraint("contracts_ej_finess_format")]
        indexes = [models.Index(fields=["name"], name="contracts_ej_name_idx")]

    def __str__(self):
        return f"{self.finess} - {self.name}"


class Etablissement(models.Model):
    """A geographic establishment (ET) of an EJ, identified by its FINESS géographique."""

    public_id = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    ej = models.ForeignKey(
        EntiteJuridique, verbose_name="entité juridique", on_delete=models.PROTECT, related_name="etablissements"
    )
    finess = models.CharField("FINESS géographique", max_length=9, unique=True, validators=[validate_finess])
    name = models.CharField("raison sociale", max_length=200)
    address = models.CharField("adresse", max_length=255, blank=True)
    postcode = models.CharField("code postal", max_length=5, blank=True)
    city = models.CharField("commune", max_length=100, blank=True)
    phone = models.CharField("téléphone", max_length=20, blank=True)

    class Meta:
        verbose_name = "établissement (ET)"
        verbose_name_plural = "établissements (ET)"
        ordering = ["finess"]
        constraints = [_finess_constraint("contracts_et_finess_format")]
        indexes = [models.Index(fields=["name"], name="contracts_et_name_idx")]

    def __str__(self):
        return f"{self.finess} - {self.name}"


class IdentificationData(models.Model):
    """An ET's identification data for one year, validated by the establishment in pré-campagne."""

    etablissement = models.ForeignKey(
        Etablissement, verbose_name="établissement", on_delete=models.PROTECT, related_name="identifications"
    )
    year = models.PositiveSmallIntegerField("année")
    beds_medicine = models.PositiveIntegerField("lits de médecine", null=True, blank=True)
    beds_surgery = models.PositiveIntegerField("lits de chirurgie", null=True, blank=True)
    beds_obstetrics = models.PositiveIntegerField("lits de gynécologie-obstétrique", null=True, blank=True)
    beds_rehabilitation = models.PositiveIntegerField(
        "lits de soins médicaux et de réadaptation (SMR)", null=True, blank=True
    )
    beds_psychiatry = models.PositiveIntegerField("lits de psychiatrie", null=True, blank=True)
    beds_long_term = models.PositiveIntegerField("lits de soins de longue durée (USLD)", null=True, blank=True)
    places_home_hospitalisation = models.PositiveIntegerField(
        "places d'hospitalisation à domicile (HAD)", null=True, blank=True
    )
    patient_record_software = models.CharField("dossier patient informatisé (DPI)", max_length=200, blank=True)
    prescription_software = models.CharField("logiciel d'aide à la prescription (LAP)", max_length=200, blank=True)
    pharmacy_software = models.CharField("logiciel de gestion de la pharmacie", max_length=200, blank=True)
    prescription_software_certified = models.BooleanField("LAP certifié HAS", null=True, blank=True)
    validated_at = models.DateTimeField("validé le", null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="validé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "données d'identification"
        verbose_name_plural = "données d'identification"
        ordering = ["etablissement", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["etablissement", "year"], name="contracts_identification_one_per_year"),
        ]

    def __str__(self):
        return f"{self.etablissement} — {self.year}"


class MembershipQuerySet(models.QuerySet):
    def signataires(self):
        return self.filter(role=MembershipRole.SIGNATAIRE)


class Membership(models.Model):
    """A user's access to an EJ, with a role; `is_admin` lets them manage the EJ's members."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur",
        on_delete=models.CASCADE,
        related_name="memberships",
        # Agency staff reach EJ through their region, never as members.
        limit_choices_to={"kind": "etablissement"},
    )
    ej = models.ForeignKey(
        EntiteJuridique, verbose_name="entité juridique", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField("rôle", max_length=20, choices=MembershipRole.choices, default=MembershipRole.LECTEUR)
    is_admin = models.BooleanField(
        "administrateur des membres", default=False, help_text="Peut inviter et retirer les membres de cette EJ."
    )
    created_at = models.DateTimeField("ajouté le", auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = "membre"
        verbose_name_plural = "membres"
        ordering = ["ej", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "ej"], name="contracts_membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} — {self.ej} ({self.get_role_display()})"


class ContractType(models.Model):
    code = models.CharField("code", max_length=20, unique=True)
    name = models.CharField("libellé", max_length=200)

    class Meta:
        verbose_name = "type de contrat"
        verbose_name_plural = "types de contrat"
        ordering = ["code"]

    def __str__(self):
        return self.code


class ContractQuerySet(models.QuerySet):
    def for_user(self, user):
        """The contracts a user may see: those of the EJ they may see."""
        return self.filter(ej__in=EntiteJuridique.objects.for_user(user))


class Contract(models.Model):
    """A contract (CAQES, CPOM…) held by an EJ and covering some of its ET.

    The ARS region of a contract is its EJ's region.
    """

    public_id = models.UUIDField("identifiant public", default=uuid.uuid4, unique=True, editable=False)
    contract_type = models.ForeignKey(
        ContractType, verbose_name="type de contrat", on_delete=models.PROTECT, related_name="contracts"
    )
    name = models.CharField("contrat", max_length=200)
    code = models.CharField("code", max_length=50, blank=True)
    status = models.CharField("statut", max_length=20, choices=ContractStatus.choices, default=ContractStatus.SIGNE)
    ej = models.ForeignKey(
        EntiteJuridique, verbose_name="entité juridique", on_delete=models.PROTECT, related_name="contracts"
    )
    etablissements = models.ManyToManyField(
        Etablissement, verbose_name="établissements du contrat", related_name="contracts", blank=True
    )
    ars_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="contact ARS",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contracts_as_ars_contact",
    )
    estimated_signature_date = models.DateField("date de signature estimée", null=True, blank=True)
    effective_date = models.DateField("date d'effet", null=True, blank=True)
    effective_end_date = models.DateField("date de fin de contrat effective", null=True, blank=True)
    last_extension_date = models.DateField("date de dernière prorogation", null=True, blank=True)
    extension_months = models.PositiveSmallIntegerField("durée de prorogation (mois)", null=True, blank=True)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = ContractQuerySet.as_manager()

    class Meta:
        verbose_name = "contrat"
        verbose_name_plural = "contrats"
        ordering = ["ej", "contract_type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["ej", "contract_type", "name"], name="contracts_contract_unique_name"),
            models.CheckConstraint(
                condition=models.Q(effective_end_date__isnull=True)
                | models.Q(effective_date__isnull=True)
                | models.Q(effective_end_date__gte=models.F("effective_date")),
                name="contracts_contract_end_after_start",
                violation_error_message="La date de fin effective précède la date d'effet.",
            ),
        ]

    def __str__(self):
        return self.name


class AdministrativeContact(models.Model):
    """A person the ARS writes to about a contract (director, CAQES referent, pharmacist…)."""

    contract = models.ForeignKey(
        Contract, verbose_name="contrat", on_delete=models.CASCADE, related_name="administrative_contacts"
    )
    last_name = models.CharField("nom", max_length=150)
    first_name = models.CharField("prénom", max_length=150, blank=True)
    function = models.CharField("fonction", max_length=200, blank=True)
    email = models.EmailField("adresse de messagerie", blank=True)
    phone = models.CharField("téléphone", max_length=20, blank=True)
    position = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "contact administratif"
        verbose_name_plural = "contacts administratifs"
        ordering = ["contract", "position", "last_name"]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip()
