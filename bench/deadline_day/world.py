"""The deadline-day world (bench/deadline_day/run.py): USERS establishments, each its own EJ, user (signataire, a
real password hashed as in production) and CAQES contract, half of them in a region whose referential has 20
questions, half in one of 150, every self-evaluation open (opened by `open_campaign`'s service). Writes what Locust
needs (URLs and credentials, one entry per user) to a JSON file. Run inside Django (see run.py).
"""

import datetime
import json

from django.db import transaction
from django.urls import reverse
from django.utils import timezone


def _referential(contract_type, name, questions):
    from evaluation.enums import ValueType
    from evaluation.models import Node, Referential

    referential = Referential.objects.create(contract_type=contract_type, name=name)
    objectives = Node.objects.bulk_create(
        Node(referential=referential, code=str(number), label=f"Objectif {number}", position=number * 1000)
        for number in range(1, 6)
    )
    Node.objects.bulk_create(
        Node(
            referential=referential,
            parent=objectives[number % 5],
            code=f"{number % 5 + 1}.{number + 1}",
            label=f"Indicateur {number + 1} : mise en place d'une action de bon usage",
            position=(number % 5 + 1) * 1000 + number,
            value_type=ValueType.OUI_NON,
            default_target="1",
        )
        for number in range(questions)
    )
    return referential


@transaction.atomic
def build(users: int, password: str, path: str) -> None:
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from contracts.enums import MembershipRole
    from contracts.models import Contract, ContractType, EntiteJuridique, Membership, Region
    from evaluation import campaigns
    from evaluation.models import Campaign, IndicatorValue, SelfEvaluation
    from tests.contracts.factories import _luhn_key

    today = timezone.localdate()
    caqes = ContractType.objects.create(code="CAQES", name="CAQES")
    small = Region.objects.create(code="76", name="Occitanie", agency_name="ARS Occitanie")
    large = Region.objects.create(code="84", name="Auvergne-Rhône-Alpes", agency_name="ARS Auvergne-Rhône-Alpes")
    opened = []
    for region, questions in ((small, 20), (large, 150)):
        campaign = Campaign.objects.create(
            code=f"caqes-{region.code}",
            name=f"CAQES {region.name}",
            contract_type=caqes,
            year=today.year - 1,
            referential=_referential(caqes, f"Référentiel {questions} questions", questions),
            self_assessment_start=today - datetime.timedelta(days=30),
            self_assessment_deadline=today + datetime.timedelta(days=1),
        )
        campaign.regions.set([region])
        opened.append(campaign)
    hashed = make_password(password)  # one hash, the production hasher: every user logs in as in production
    ejs = EntiteJuridique.objects.bulk_create(
        EntiteJuridique(
            finess=f"{31 if n % 2 == 0 else 38}{n:06d}" + _luhn_key(f"{31 if n % 2 == 0 else 38}{n:06d}"),
            name=f"CENTRE HOSPITALIER {n}",
            region=small if n % 2 == 0 else large,
        )
        for n in range(users)
    )
    contracts = Contract.objects.bulk_create(
        Contract(contract_type=caqes, name=f"CAQES {ej.finess}", ej=ej) for ej in ejs
    )
    accounts = User.objects.bulk_create(
        User(email=f"etablissement{n}@charge.test", password=hashed, kind="etablissement") for n in range(users)
    )
    Membership.objects.bulk_create(
        Membership(user=user, ej=ej, role=MembershipRole.SIGNATAIRE) for user, ej in zip(accounts, ejs, strict=True)
    )
    for campaign in opened:
        campaigns.open_campaign(campaign, today=today)
    codes = {}
    for campaign in opened:
        codes[campaign.pk] = list(
            IndicatorValue.objects.filter(self_evaluation__campaign=campaign)
            .order_by("indicator__position")
            .values_list("indicator__code", flat=True)
            .distinct()[:1000]
        )
    by_contract = {row.contract_id: row for row in SelfEvaluation.objects.all()}
    entries = []
    for user, ej, contract in zip(accounts, ejs, contracts, strict=True):
        self_evaluation = by_contract[contract.pk]
        tree = reverse("evaluation:indicators", args=[self_evaluation.public_id])
        entries.append(
            {
                "email": user.email,
                "questions": len(codes[self_evaluation.campaign_id]),
                "home": reverse("contracts:home"),
                "ej": reverse("contracts:ej_detail", args=[ej.public_id]),
                "contract": reverse("contracts:contract_detail", args=[contract.public_id]),
                "tree": tree,
                "question_prefix": tree,
                "codes": codes[self_evaluation.campaign_id],
            }
        )
    with open(path, "w") as file:
        json.dump({"login": reverse("account_login"), "password": password, "users": entries}, file)
