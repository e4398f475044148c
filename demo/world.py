"""The demo world of the manual (DESIGN.md §6), built idempotently by `manage.py seed_demo`.

EJ 380780080 CHU DE GRENOBLE ALPES holds the contract « CAQES TEST » (type CAQES, code PUBLIC,
statut Signé, contact ARS Mourad ABED), whose self-evaluation is open. The referential is the
manual's tree completed to 20 questions that the establishment must fill (so one saved answer
shows 5 %), plus two questions answered by the Assurance Maladie (grey dots). A second EJ with its
own user shows that EJ cannot see each other.

The campaign evaluates last year (2025 when run in 2026); the identification data of the ET are those of
that year, as the pré-campagne page asks them. CAQES TEST also has the year before (2024), over
(« Définitive »): a few answers, comments and documents (`EARLIER_ANSWERS`), so that a question shows
« Années précédentes », « Commentaire évalué N-1 » and documents of an earlier year, which are never withdrawn.
"""

import datetime
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.enums import UserKind
from accounts.invitations import generate_temporary_password
from accounts.models import User
from contracts.enums import ContractStatus, MembershipRole
from contracts.models import (
    AdministrativeContact,
    Contract,
    ContractType,
    EntiteJuridique,
    Etablissement,
    IdentificationData,
    Membership,
    Region,
)
from evaluation.attachments import upload_to_question
from evaluation.enums import FilledBy, SelfEvaluationState, ValueType
from evaluation.models import Campaign, IndicatorValue, Node, Referential, SelfEvaluation
from evaluation.services import close_self_evaluation, open_self_evaluation, save_answer, transition


DEMO_USER_EMAIL = "contact.et1.etablissement@test.fr"
OTHER_USER_EMAIL = "contact.et2.etablissement@test.fr"
ARS_USER_EMAIL = "mourad.abed@ars.sante.fr"
AM_USER_EMAIL = "claire.morel@assurance-maladie.fr"
OMEDIT_USER_EMAIL = "paul.girard@omedit-occitanie.fr"
CLOSED_USER_EMAIL = "contact.et3.etablissement@test.fr"
TEMPORARY_PASSWORD_VALIDITY = datetime.timedelta(hours=72)

OUI_NON, TAUX, NOMBRE, TEXTE, DATE, LISTE = (
    ValueType.OUI_NON,
    ValueType.TAUX,
    ValueType.NOMBRE,
    ValueType.TEXTE,
    ValueType.DATE,
    ValueType.LISTE,
)

# (code, label, value type or None for a grouping node, extra indicator fields)
TREE = [
    ("1.1", "Identification du numéro RPPS et du numéro FINESS de l'établissement", None, {}),
    ("1.1.1", "Identification du numéro RPPS et du numéro FINESS de l'établissement", None, {}),
    (
        "1.1.1.a",
        "Taux d'ordonnances de sortie délivrées précisant les numéros FINESS géographique et RPPS",
        TAUX,
        {"unit": "%", "default_target": "95", "help_text": "Sur un échantillon d'au moins 30 ordonnances de sortie."},
    ),
    (
        "2.1",
        "Identification des 3 classes médicamenteuses ou LPP les plus significatives et mise en place des "
        "groupes de travail avec élaboration d'un plan d'actions sur ces 3 classes (intègre au programme "
        "d'actions du COMEDIMS)",
        None,
        {},
    ),
]
for _rank, _ordinal in ((1, "première"), (2, "deuxième"), (3, "troisième")):
    TREE += [
        (
            f"2.1.{_rank}",
            f"Identification d'une {_ordinal} classe médicamenteuse ou LPP parmi les classes les plus "
            "significatives et mise en place d'un groupe de travail avec élaboration d'un plan d'actions",
            None,
            {},
        ),
        (
            f"2.1.{_rank}.a",
            "Mise en place d'un groupe de travail et élaboration d'un plan d'actions",
            OUI_NON,
            {"default_target": "1"},
        ),
        (f"2.1.{_rank}.b", "Actions mises en œuvre", OUI_NON, {"default_target": "1"}),
        (
            f"2.1.{_rank}.c",
            "Suivi des actions mises en œuvre (échéance, indicateurs)",
            OUI_NON,
            {"default_target": "1"},
        ),
    ]
TREE += [
    (
        "3.1",
        "Objectifs socles pour le développement et le suivi des activités de pharmacie clinique au regard des "
        "risques identifiés",
        None,
        {},
    ),
    ("3.1.1", "Les situations à risques sont identifiées et un plan d'action est élaboré et validé", None, {}),
    (
        "3.1.1.a",
        "Cartographie des situations à risques réalisée",
        OUI_NON,
        {"default_target": "1", "evaluated_by_omedit": True},
    ),
    ("3.1.1.b", "Date de validation du plan d'actions par la COMEDIMS", DATE, {}),
    ("3.1.2", "Déploiement de la conciliation médicamenteuse", None, {}),
    (
        "3.1.2.a",
        "Nombre de patients ayant bénéficié d'une conciliation médicamenteuse à l'admission",
        NOMBRE,
        {"unit": "patients"},
    ),
    (
        "3.1.2.b",
        "Taux de patients à risque conciliés",
        TAUX,
        {"unit": "%", "default_target": "50", "evaluated_by_omedit": True},
    ),
    ("3.1.3", "Analyse pharmaceutique des prescriptions", None, {}),
    (
        "3.1.3.a",
        "Taux de lits couverts par une analyse pharmaceutique des prescriptions",
        TAUX,
        {"unit": "%", "default_target": "80"},
    ),
    (
        "3.1.3.b",
        "Niveau d'analyse pharmaceutique le plus fréquent (selon la SFPC)",
        LISTE,
        {"choices": ["Niveau 1", "Niveau 2", "Niveau 3"], "default_target": "Niveau 2"},
    ),
    ("3.1.3.c", "Organisation de l'analyse pharmaceutique : description et perspectives", TEXTE, {}),
    ("4.1", "Volet « produits de santé » : indicateurs nationaux", None, {"national": True}),
    (
        "4.1.1",
        "Prescriptions hospitalières exécutées en ville (PHEV)",
        None,
        {"national": True},
    ),
    (
        "4.1.1.a",
        "Les prescriptions hospitalières exécutées en ville (PHEV) d'inhibiteurs de la pompe à protons (IPP)",
        NOMBRE,
        {"national": True, "filled_by": FilledBy.AM, "unit": "prescriptions", "evaluated_by_am": True},
    ),
    (
        "4.1.1.b",
        "Les prescriptions hospitalières exécutées en ville (PHEV) de l'ézétimibe",
        NOMBRE,
        {"national": True, "filled_by": FilledBy.AM, "unit": "prescriptions", "evaluated_by_am": True},
    ),
    (
        "4.1.1.c",
        "Analyse par l'établissement de l'évolution de ses PHEV et actions engagées",
        TEXTE,
        {"national": True},
    ),
    (
        "5.1",
        "Organisation des soins : transports",
        None,
        {"national": True},
    ),
    (
        "5.1.1",
        "La part de l'ambulance dans les prescriptions hospitalières exécutées en ville (PHEV) de transports",
        None,
        {"national": True},
    ),
    (
        "5.1.1.a",
        "Sensibilisation des prescripteurs au bon usage des transports",
        LISTE,
        {"choices": ["Aucune", "Partielle", "Complète"], "default_target": "Complète"},
    ),
    ("5.1.1.b", "Date de la dernière action de sensibilisation des prescripteurs", DATE, {}),
]


# CAQES TEST's earlier year: (code, answer as stored, comment, documents). {year} is that year.
EARLIER_ANSWERS = [
    (
        "1.1.1.a",
        "88",
        "Audit de 40 ordonnances de sortie en novembre {year} : le RPPS manquait sur les ordonnances manuscrites.",
        (),
    ),
    (
        "2.1.1.a",
        "1",
        "Groupe de travail sur les anticoagulants oraux réuni le 14 mars {year}, plan d'actions validé en COMEDIMS.",
        ("Compte rendu du groupe de travail {year}.pdf", "Plan d'actions anticoagulants {year}.pdf"),
    ),
    ("2.1.1.b", "0", "Actions reportées : le plan d'actions a été validé trop tard dans l'année.", ()),
    (
        "3.1.1.a",
        "1",
        "Cartographie mise à jour après la visite de certification.",
        ("Cartographie des risques {year}.pdf",),
    ),
    ("3.1.3.b", "Niveau 1", "", ()),
]


@dataclass
class DemoResult:
    demo_user: User
    demo_password: str | None
    ars_user: User
    other_user: User
    ars_totp_secret: str | None
    am_user: User
    am_totp_secret: str | None
    omedit_user: User
    omedit_totp_secret: str | None
    closed_user: User


def _user(email, *, password, temporary, **fields):
    user, created = User.objects.get_or_create(email=email, defaults=fields)
    if password is not None:
        user.set_password(password)
        user.password_must_change = temporary
        user.temporary_password_expires_at = timezone.now() + TEMPORARY_PASSWORD_VALIDITY if temporary else None
        user.save(update_fields=["password", "password_must_change", "temporary_password_expires_at"])
    elif created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _referential(contract_type, region) -> Referential:
    referential, _ = Referential.objects.get_or_create(
        contract_type=contract_type, name="Référentiel CAQES Occitanie", version=1
    )
    parents = {}
    for position, (code, label, value_type, extra) in enumerate(TREE):
        parent_code = code.rsplit(".", 1)[0] if code.count(".") else None
        extra = dict(extra)
        # The regional part of the contract is Occitanie's; « national » nodes are the same everywhere.
        node_region = None if extra.pop("national", False) else region
        node, _ = Node.objects.get_or_create(
            referential=referential,
            code=code,
            defaults={
                "label": label,
                "parent": parents.get(parent_code),
                "position": position,
                "value_type": value_type or "",
                "region": node_region,
                **extra,
            },
        )
        parents[code] = node
    return referential


def _campaign(contract_type, referential, region, today) -> Campaign:
    year = today.year - 1
    deadline = today + datetime.timedelta(days=42)
    report = deadline + datetime.timedelta(days=75)
    campaign, created = Campaign.objects.get_or_create(
        code=f"caqes-{year}-occitanie",
        defaults={
            "name": f"CAQES — évaluation de l'année {year}",
            "contract_type": contract_type,
            "year": year,
            "referential": referential,
            "precampaign_start": today - datetime.timedelta(days=35),
            "precampaign_end": today - datetime.timedelta(days=28),
            "self_assessment_start": today - datetime.timedelta(days=21),
            "self_assessment_deadline": deadline,
            "report_date": report,
            "contradictory_deadline": report + datetime.timedelta(days=30),
        },
    )
    if created:
        campaign.regions.add(region)
    return campaign


CALENDAR_FIELDS = (
    "precampaign_start",
    "precampaign_end",
    "self_assessment_start",
    "self_assessment_deadline",
    "report_date",
    "contradictory_deadline",
)


def _a_year_before(day: datetime.date | None) -> datetime.date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _pdf(*lines: str) -> bytes:
    """A one-page PDF showing `lines`: a small real document for the demo's questions."""

    def text(line):
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return escaped.encode("cp1252", errors="replace")

    content = b"BT /F1 14 Tf 72 770 Td 18 TL " + b" ".join(b"(" + text(line) + b") '" for line in lines) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    pdf = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return pdf


def _earlier_year(contract, campaign: Campaign, *, signataire, agent) -> SelfEvaluation:
    """CAQES TEST's self-evaluation of the year before `campaign`, answered in part and over (« Définitive »).

    Built once, through the services alone. They accept the establishment's writes only while the campaign's
    calendar is open: the earlier campaign is written under the current campaign's calendar, closed and taken
    through the ARS's phases, then given its own calendar, a year before the current one (a campaign's dates
    are its configuration, not a state). The closure dates of the transitions are those of the seeding.
    """
    year = campaign.year - 1
    own_calendar = {name: _a_year_before(getattr(campaign, name)) for name in CALENDAR_FIELDS}
    earlier, created = Campaign.objects.get_or_create(
        code=f"caqes-{year}-occitanie",
        defaults={
            "name": f"CAQES — évaluation de l'année {year}",
            "contract_type": campaign.contract_type,
            "year": year,
            "referential": campaign.referential,
            **own_calendar,
        },
    )
    if created:
        earlier.regions.set(campaign.regions.all())
    existing = SelfEvaluation.objects.filter(contract=contract, campaign=earlier).first()
    if existing is not None:
        return existing

    Campaign.objects.filter(pk=earlier.pk).update(**{name: getattr(campaign, name) for name in CALENDAR_FIELDS})
    self_evaluation = open_self_evaluation(contract=contract, campaign=earlier)
    questions = {
        value.indicator.code: value
        for value in IndicatorValue.objects.filter(
            self_evaluation=self_evaluation, etablissement__isnull=True
        ).select_related("indicator", "self_evaluation__campaign", "self_evaluation__contract__ej")
    }
    for code, answer, comment, documents in EARLIER_ANSWERS:
        value = questions[code]
        save_answer(
            value,
            acting_user=signataire,
            expected_version=value.version,
            answer={
                "value": answer,
                "not_applicable": False,
                "not_applicable_reason": "",
                "comment": comment.format(year=year),
            },
        )
        for name in documents:
            name = name.format(year=year)
            content = _pdf(name.removesuffix(".pdf"), f"{contract.ej.name} - {contract.name} - {year}")
            upload_to_question(
                SimpleUploadedFile(name, content, content_type="application/pdf"), value=value, acting_user=signataire
            )
    self_evaluation = transition(self_evaluation, to_state=SelfEvaluationState.CLOTUREE, acting_user=signataire)
    for state in (
        SelfEvaluationState.EN_EVALUATION,
        SelfEvaluationState.RAPPORT_ENVOYE,
        SelfEvaluationState.DEFINITIVE,
    ):
        self_evaluation = transition(self_evaluation, to_state=state, acting_user=agent)
    Campaign.objects.filter(pk=earlier.pk).update(**own_calendar)
    return self_evaluation


DEMO_EMAILS = frozenset(
    {DEMO_USER_EMAIL, OTHER_USER_EMAIL, CLOSED_USER_EMAIL, ARS_USER_EMAIL, AM_USER_EMAIL, OMEDIT_USER_EMAIL}
)


def _agent(email, *, password, region, kind, first_name, last_name):
    """An agent of `region` and their authenticator: (user, the TOTP key to print, or None when already set up)."""
    user = _user(
        email,
        password=password,
        temporary=False,
        first_name=first_name,
        last_name=last_name,
        kind=kind,
        region=region,
        is_staff=True,
    )
    if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        return user, None
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return user, secret


def _closed_contract(contract, campaign: Campaign, *, signataire) -> SelfEvaluation:
    """A contract whose self-evaluation is complete and closed, through the services: ready to be evaluated."""
    self_evaluation = open_self_evaluation(contract=contract, campaign=campaign)
    if self_evaluation.state != SelfEvaluationState.AUTO_EVALUATION:
        return self_evaluation
    answers = {ValueType.OUI_NON: "1", ValueType.TAUX: "72", ValueType.NOMBRE: "120", ValueType.DATE: "2025-06-30"}
    values = IndicatorValue.objects.filter(
        self_evaluation=self_evaluation, indicator__filled_by=FilledBy.ETABLISSEMENT
    ).select_related("indicator", "etablissement", "self_evaluation__campaign", "self_evaluation__contract__ej")
    for value in values:
        indicator = value.indicator
        answer = answers.get(indicator.value_type) or (
            indicator.choices[-1] if indicator.choices else "Démarche engagée, détaillée dans le rapport annuel."
        )
        save_answer(
            value,
            acting_user=signataire,
            expected_version=value.version,
            answer={
                "value": answer,
                "not_applicable": False,
                "not_applicable_reason": "",
                "comment": f"Réponse de la clinique pour {indicator.code}.",
            },
        )
    return close_self_evaluation(self_evaluation, acting_user=signataire)


class NotADemoDatabase(Exception):
    """The database holds real accounts: the demo world (and its known passwords) must not land there."""


def refuse_a_real_database() -> None:
    others = User.objects.exclude(email__in=DEMO_EMAILS)
    count = others.count()
    if count:
        example = others.order_by("pk").values_list("email", flat=True).first()
        what = f"{count} comptes qui ne sont" if count > 1 else "1 compte qui n'est"
        raise NotADemoDatabase(
            f"Cette base contient {what} pas de la démonstration (par exemple {example}) : seed_demo ne "
            "s'exécute que sur une base vide ou de démonstration, jamais sur une base de production. Rien n'a été "
            "modifié."
        )


@transaction.atomic
def seed_demo(*, password: str | None = None) -> DemoResult:
    """Build the demo world; running it again changes nothing but the passwords given.

    Refused (NotADemoDatabase) on a database holding any other account: the demo's accounts have known
    passwords, and its agent a printed TOTP key.
    """
    refuse_a_real_database()
    today = timezone.localdate()
    # One password for the demo accounts: the one given, or a fresh temporary one on the first run.
    demo_password = password
    if demo_password is None and not User.objects.filter(email=DEMO_USER_EMAIL).exists():
        demo_password = generate_temporary_password()
    region, _ = Region.objects.get_or_create(
        code="76",
        defaults={
            "name": "Occitanie",
            "agency_name": "ARS Occitanie",
            "support_email": "ars.ecars@sg.social.gouv.fr",
            "support_phone": "07 61 92 29 71",
            "business_email": "ARS-OC-DUAJIQ-QUALITE@ars.sante.fr",
        },
    )
    # Agents work only with TOTP: each demo agent gets an authenticator whose key is printed once.
    ars_user, ars_totp_secret = _agent(
        ARS_USER_EMAIL, password=demo_password, region=region, kind=UserKind.ARS, first_name="Mourad", last_name="ABED"
    )

    caqes, _ = ContractType.objects.get_or_create(
        code="CAQES", defaults={"name": "Contrat d'amélioration de la qualité et de l'efficience des soins"}
    )
    ContractType.objects.get_or_create(code="CPOM", defaults={"name": "Contrat pluriannuel d'objectifs et de moyens"})
    referential = _referential(caqes, region)
    campaign = _campaign(caqes, referential, region, today)

    grenoble, _ = EntiteJuridique.objects.get_or_create(
        finess="380780080",
        defaults={
            "name": "CHU DE GRENOBLE ALPES",
            "address": "Boulevard de la Chantourne",
            "postcode": "38043",
            "city": "GRENOBLE",
            "phone": "0476767575",
            "region": region,
        },
    )
    grenoble_sites = [
        Etablissement.objects.get_or_create(
            finess=finess, defaults={"ej": grenoble, "name": name, "postcode": postcode, "city": city}
        )[0]
        for finess, name, postcode, city in (
            ("380012658", "CHU GRENOBLE ALPES - SITE NORD", "38700", "LA TRONCHE"),
            ("380000174", "CHU GRENOBLE ALPES - SITE SUD", "38130", "ECHIROLLES"),
        )
    ]
    for site, beds in zip(grenoble_sites, (1450, 620), strict=True):
        # The year the campaign evaluates: the pré-campagne page shows that year's data.
        IdentificationData.objects.get_or_create(
            etablissement=site,
            year=campaign.year,
            defaults={
                "beds_medicine": beds // 2,
                "beds_surgery": beds // 3,
                "patient_record_software": "Easily",
                "prescription_software": "Easily Prescription",
                "pharmacy_software": "Pharma",
            },
        )
    demo_user = _user(
        DEMO_USER_EMAIL,
        password=demo_password,
        temporary=True,
        first_name="Contact",
        last_name="ET1",
        phone="0476767575",
    )
    Membership.objects.get_or_create(
        user=demo_user, ej=grenoble, defaults={"role": MembershipRole.SIGNATAIRE, "is_admin": True}
    )
    caqes_test, created = Contract.objects.get_or_create(
        ej=grenoble,
        contract_type=caqes,
        name="CAQES TEST",
        defaults={"code": "PUBLIC", "status": ContractStatus.SIGNE, "ars_contact": ars_user},
    )
    if created:
        caqes_test.etablissements.set(grenoble_sites)
        AdministrativeContact.objects.bulk_create(
            [
                AdministrativeContact(
                    contract=caqes_test,
                    last_name="MARTIN",
                    first_name="Claire",
                    function="Directrice générale",
                    email="direction@chu-grenoble.test",
                    position=1,
                ),
                AdministrativeContact(
                    contract=caqes_test,
                    last_name="DURAND",
                    first_name="Paul",
                    function="Pharmacien gérant, référent CAQES",
                    email="pharmacie@chu-grenoble.test",
                    position=2,
                ),
            ]
        )
    open_self_evaluation(contract=caqes_test, campaign=campaign)
    _earlier_year(caqes_test, campaign, signataire=demo_user, agent=ars_user)

    montpellier, _ = EntiteJuridique.objects.get_or_create(
        finess="340780477",
        defaults={
            "name": "CHU DE MONTPELLIER",
            "address": "191 avenue du Doyen Gaston Giraud",
            "postcode": "34295",
            "city": "MONTPELLIER",
            "phone": "0467330000",
            "region": region,
        },
    )
    lapeyronie, _ = Etablissement.objects.get_or_create(
        finess="340780055",
        defaults={"ej": montpellier, "name": "HOPITAL LAPEYRONIE", "postcode": "34295", "city": "MONTPELLIER"},
    )
    other_user = _user(OTHER_USER_EMAIL, password=demo_password, temporary=True, first_name="Contact", last_name="ET2")
    Membership.objects.get_or_create(user=other_user, ej=montpellier, defaults={"role": MembershipRole.SIGNATAIRE})
    caqes_montpellier, created = Contract.objects.get_or_create(
        ej=montpellier,
        contract_type=caqes,
        name="CAQES CHU MONTPELLIER",
        defaults={"code": "PUBLIC", "status": ContractStatus.SIGNE, "ars_contact": ars_user},
    )
    if created:
        caqes_montpellier.etablissements.set([lapeyronie])
    open_self_evaluation(contract=caqes_montpellier, campaign=campaign)

    # The evaluators of the Assurance Maladie and of the OMEDIT of the region, with TOTP like the ARS agent.
    am_user, am_totp_secret = _agent(
        AM_USER_EMAIL, password=demo_password, region=region, kind=UserKind.AM, first_name="Claire", last_name="MOREL"
    )
    omedit_user, omedit_totp_secret = _agent(
        OMEDIT_USER_EMAIL,
        password=demo_password,
        region=region,
        kind=UserKind.OMEDIT,
        first_name="Paul",
        last_name="GIRARD",
    )

    # A third EJ whose contract is already closed: the evaluation can be tried at once.
    clinique, _ = EntiteJuridique.objects.get_or_create(
        finess="310780234",
        defaults={
            "name": "CLINIQUE DU PARC",
            "address": "12 allée des Tilleuls",
            "postcode": "31000",
            "city": "TOULOUSE",
            "phone": "0561000000",
            "region": region,
        },
    )
    clinique_site, _ = Etablissement.objects.get_or_create(
        finess="310780242",
        defaults={"ej": clinique, "name": "CLINIQUE DU PARC", "postcode": "31000", "city": "TOULOUSE"},
    )
    closed_user = _user(
        CLOSED_USER_EMAIL, password=demo_password, temporary=True, first_name="Contact", last_name="ET3"
    )
    Membership.objects.get_or_create(
        user=closed_user, ej=clinique, defaults={"role": MembershipRole.SIGNATAIRE, "is_admin": True}
    )
    caqes_clinique, created = Contract.objects.get_or_create(
        ej=clinique,
        contract_type=caqes,
        name="CAQES CLINIQUE DU PARC",
        defaults={"code": "PRIVE", "status": ContractStatus.SIGNE, "ars_contact": ars_user},
    )
    if created:
        caqes_clinique.etablissements.set([clinique_site])
    _closed_contract(caqes_clinique, campaign, signataire=closed_user)

    return DemoResult(
        demo_user=demo_user,
        demo_password=demo_password,
        ars_user=ars_user,
        other_user=other_user,
        ars_totp_secret=ars_totp_secret,
        am_user=am_user,
        am_totp_secret=am_totp_secret,
        omedit_user=omedit_user,
        omedit_totp_secret=omedit_totp_secret,
        closed_user=closed_user,
    )
