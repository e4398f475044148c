"""The deadline-day world (bench/deadline_day/run.py): USERS establishments, each its own EJ, user (signataire, a
real password hashed as in production) and CAQES contract, half of them in a region whose referential has 20
questions, half in one of 150, every self-evaluation open (opened by `open_campaign`'s service).

The evaluators' side: AGENTS agents of the ARS, the Assurance Maladie and the OMEDIT (staff of one of the two
regions, each with a TOTP authenticator whose secret the JSON gives), and the self-evaluations they decide: other
EJ of the same campaign that have already answered every question and closed (« Clore la saisie », by their
signataire, through the service, attestation included). The referential gives every question to the ARS, every
other one to the Assurance Maladie, every third one to the OMEDIT. Each agent has PER_AGENT self-evaluations of
their region to themselves among those their body decides, so that no two virtual agents race on the same
decision (a version conflict is a correct answer of the portal, not the load this measures).

Writes what Locust needs (URLs and credentials, one entry per user and per agent) to a JSON file. Run inside Django
(see run.py).
"""

import datetime
import json
import logging
import math

from django.db import transaction
from django.urls import reverse
from django.utils import timezone


BODIES = ("ars", "am", "omedit")


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
            evaluated_by_am=number % 2 == 0,
            evaluated_by_omedit=number % 3 == 0,
        )
        for number in range(questions)
    )
    return referential


def _finess(prefix: int, number: int) -> str:
    from tests.contracts.factories import _luhn_key

    digits = f"{prefix}{number:06d}"
    return digits + _luhn_key(digits)


def agent_slots(agents: int) -> list[tuple[int, str, int]]:
    """(region index, body, slot) of each agent: alternately in each region, the bodies in turn; the slot numbers
    the agents of one body in one region (slot k decides the self-evaluations k × PER_AGENT …)."""
    slots = []
    for number in range(agents):
        in_region = number // 2
        slots.append((number % 2, BODIES[in_region % 3], in_region // 3))
    return slots


def closed_per_region(agents: int, per_agent: int) -> int:
    """How many closed self-evaluations each region needs for `agents` agents of PER_AGENT each."""
    return math.ceil(math.ceil(agents / 2) / 3) * per_agent if agents else 0


@transaction.atomic
def build(users: int, password: str, path: str, agents: int = 50, per_agent: int = 3) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.hashers import make_password

    from accounts.enums import UserKind
    from accounts.models import User
    from contracts.enums import MembershipRole
    from contracts.models import Contract, ContractType, EntiteJuridique, Membership, Region
    from evaluation import campaigns, services
    from evaluation.models import Campaign, IndicatorValue, SelfEvaluation

    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # each attestation's steps, else
    today = timezone.localdate()
    caqes = ContractType.objects.create(code="CAQES", name="CAQES")
    small = Region.objects.create(code="76", name="Occitanie", agency_name="ARS Occitanie")
    large = Region.objects.create(code="84", name="Auvergne-Rhône-Alpes", agency_name="ARS Auvergne-Rhône-Alpes")
    regions = (small, large)
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
            finess=_finess(31 if n % 2 == 0 else 38, n),
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
    # The EJ that have closed already, the agents' work: numbered after the establishments, each region its own.
    per_region = closed_per_region(agents, per_agent)
    closed_ejs = EntiteJuridique.objects.bulk_create(
        EntiteJuridique(
            finess=_finess(31 if side == 0 else 38, users + index * 2 + side),
            name=f"CLINIQUE {users + index * 2 + side}",
            region=regions[side],
        )
        for index in range(per_region)
        for side in (0, 1)
    )
    closed_contracts = Contract.objects.bulk_create(
        Contract(contract_type=caqes, name=f"CAQES {ej.finess}", ej=ej) for ej in closed_ejs
    )
    signataires = User.objects.bulk_create(
        User(email=f"cloture{ej.finess}@charge.test", password=hashed, kind="etablissement") for ej in closed_ejs
    )
    Membership.objects.bulk_create(
        Membership(user=user, ej=ej, role=MembershipRole.SIGNATAIRE)
        for user, ej in zip(signataires, closed_ejs, strict=True)
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
    by_contract = {row.contract_id: row for row in SelfEvaluation.objects.select_related("campaign")}
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
    closed_by_region: list[list] = [[], []]
    for contract, signataire in zip(closed_contracts, signataires, strict=True):
        self_evaluation = by_contract[contract.pk]
        # Every question answered as the establishment would, then « Clore la saisie » by its signataire.
        IndicatorValue.objects.filter(self_evaluation=self_evaluation).update(
            value="1", comment="Action en place.", version=1, updated_by=signataire, updated_at=timezone.now()
        )
        closed = services.close_self_evaluation(self_evaluation, acting_user=signataire, today=today)
        closed_by_region[0 if contract.ej.region_id == small.pk else 1].append(closed)
    agent_entries = []
    agent_users = User.objects.bulk_create(
        User(
            email=f"agent{number}-{body}@charge.test",
            password=hashed,
            kind={"ars": UserKind.ARS, "am": UserKind.AM, "omedit": UserKind.OMEDIT}[body],
            is_staff=True,
            region=regions[side],
            first_name="Agent",
            last_name=f"{body.upper()} {number}",
        )
        for number, (side, body, _) in enumerate(agent_slots(agents))
    )
    for agent, (side, body, slot) in zip(agent_users, agent_slots(agents), strict=True):
        secret = generate_totp_secret()
        TOTP.activate(agent, secret)
        evaluations = []
        for self_evaluation in closed_by_region[side][slot * per_agent : (slot + 1) * per_agent]:
            values = IndicatorValue.objects.filter(
                self_evaluation=self_evaluation, **{f"indicator__evaluated_by_{body}": True}
            ).order_by("indicator__position")
            questions = len(codes[self_evaluation.campaign_id])
            evaluations.append(
                {
                    "questions": questions,
                    "evaluate": reverse("admin:evaluation_evaluation_evaluate", args=[self_evaluation.pk]),
                    "values": [
                        reverse("admin:evaluation_evaluation_evaluate_question", args=[self_evaluation.pk, pk])
                        for pk in values.values_list("pk", flat=True)
                    ],
                }
            )
        agent_entries.append({"email": agent.email, "body": body, "secret": secret, "evaluations": evaluations})
    with open(path, "w") as file:
        json.dump(
            {
                "login": reverse("account_login"),
                "code": reverse("mfa_authenticate"),
                "evaluations": reverse("admin:evaluation_evaluation_changelist"),
                "password": password,
                "users": entries,
                "agents": agent_entries,
            },
            file,
        )
