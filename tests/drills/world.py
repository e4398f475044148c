"""The world of a drill, built in the drill's own database by a separate process (the test process's Django is
connected to the suite's test database, not to the drill's private PostgreSQL):

    DATABASE_URL=… DJANGO_SETTINGS_MODULE=tests.ecars.production_settings \
        python -m tests.drills.world PASSWORD [SCENARIO]

prints, as JSON, what the drill needs of it:
- « question » (the default): a signataire's address and an open self-evaluation of their EJ whose questions « 1.a »
  to « 1.d » take a number (their values' ids);
- « report »: a self-evaluation « En évaluation » with every question consolidated (tests/evaluation's `World`),
  ready for « Envoyer le rapport », and the region's ARS agent who sends it (address, TOTP secret, admin URLs);
- « campaign »: a campaign open today, not opened yet, of 3 questions for the EJ, and 300 signed contracts of its
  type (30 EJ × 10, bulk-created): its code and the date to open it on.
"""

import json
import sys

import django


# The questions of the default world, each taking a number: « 1.a » for most drills, all four for the database cut's
# concurrent establishments.
QUESTIONS = ("1.a", "1.b", "1.c", "1.d")


def build(password: str) -> dict:
    from django.contrib.auth.hashers import make_password

    from accounts.hashers import Argon2idHasher
    from contracts.enums import MembershipRole
    from tests.contracts.factories import (
        ContractFactory,
        EntiteJuridiqueFactory,
        MembershipFactory,
        RegionFactory,
    )
    from tests.evaluation.factories import (
        CampaignFactory,
        IndicatorValueFactory,
        NodeFactory,
        SelfEvaluationFactory,
    )

    region = RegionFactory(code="76", name="Occitanie", agency_name="ARS Occitanie")
    ej = EntiteJuridiqueFactory(region=region)
    member = MembershipFactory(ej=ej, role=MembershipRole.SIGNATAIRE).user
    member.password = make_password(password, hasher=Argon2idHasher())
    member.save(update_fields=["password"])
    contract = ContractFactory(ej=ej, name="CAQES EXERCICE")
    campaign = CampaignFactory(contract_type=contract.contract_type, regions=[region])
    self_evaluation = SelfEvaluationFactory(contract=contract, campaign=campaign)
    objective = NodeFactory(referential=campaign.referential, code="1", label="Améliorer la pertinence")
    values = {}
    for position, code in enumerate(QUESTIONS):
        question = NodeFactory(
            referential=campaign.referential,
            parent=objective,
            code=code,
            label=f"Nombre de revues ({position + 1})",
            position=position,
            nombre=True,
        )
        values[code] = IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question, value="0").pk
    return {
        "email": member.email,
        "self_evaluation": str(self_evaluation.public_id),
        "value_id": values["1.a"],
        "value_ids": values,
    }


def build_report(password: str) -> dict:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.hashers import make_password
    from django.urls import reverse

    from accounts.hashers import Argon2idHasher
    from contracts.enums import MembershipRole
    from tests.contracts.factories import EntiteJuridiqueFactory, MembershipFactory, RegionFactory
    from tests.evaluation.test_consolidation import World

    region = RegionFactory(code="76", name="Occitanie", agency_name="ARS Occitanie")
    world = World(EntiteJuridiqueFactory(region=region))
    MembershipFactory(ej=world.ej, role=MembershipRole.SIGNATAIRE)
    world.consolidate_all()
    agent = world.ars
    agent.password = make_password(password, hasher=Argon2idHasher())
    agent.save(update_fields=["password"])
    secret = generate_totp_secret()
    TOTP.activate(agent, secret)
    pk = world.self_evaluation.pk
    return {
        "email": agent.email,
        "totp_secret": secret,
        "self_evaluation_id": pk,
        "page": reverse("admin:evaluation_evaluation_consolidate", args=[pk]),
        "send": reverse("admin:evaluation_evaluation_send_report", args=[pk]),
    }


CONTRACTS, EJS = 300, 30


def build_campaign(password: str) -> dict:
    from contracts.models import Contract, EntiteJuridique
    from evaluation import campaigns
    from tests.contracts.factories import (
        ContractFactory,
        ContractTypeFactory,
        EntiteJuridiqueFactory,
        RegionFactory,
    )
    from tests.evaluation.factories import CampaignFactory, NodeFactory

    region = RegionFactory(code="76", name="Occitanie", agency_name="ARS Occitanie")
    caqes = ContractTypeFactory(code="CAQES")
    campaign = CampaignFactory(code="caqes-exercice", contract_type=caqes, regions=[region])
    objective = NodeFactory(referential=campaign.referential, code="1", label="Pertinence", position=1)
    for position, code in enumerate(["1.a", "1.b", "1.c"], start=2):
        NodeFactory(
            referential=campaign.referential, parent=objective, code=code, position=position, label=code, oui_non=True
        )
    ejs = EntiteJuridique.objects.bulk_create(EntiteJuridiqueFactory.build_batch(EJS, region=region))
    Contract.objects.bulk_create(ContractFactory.build(ej=ejs[n % EJS], contract_type=caqes) for n in range(CONTRACTS))
    to_create = campaigns.plan(campaign, today=campaign.self_assessment_start).to_create
    assert len(to_create) == CONTRACTS
    return {
        "campaign": campaign.code,
        "date": campaign.self_assessment_start.isoformat(),
        "contracts": CONTRACTS,
        "questions": 3,
    }


SCENARIOS = {"question": build, "report": build_report, "campaign": build_campaign}


if __name__ == "__main__":
    django.setup()
    print(json.dumps(SCENARIOS[sys.argv[2] if len(sys.argv) > 2 else "question"](sys.argv[1])))  # noqa: T201
