"""The world of a drill, built in the drill's own database by a separate process (the test process's Django is
connected to the suite's test database, not to the drill's private PostgreSQL):

    DATABASE_URL=… DJANGO_SETTINGS_MODULE=tests.ecars.production_settings python -m tests.drills.world PASSWORD

prints, as JSON, a signataire's address and an open self-evaluation of their EJ whose question « 1.a » takes a number.
"""

import json
import sys

import django


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
    question = NodeFactory(
        referential=campaign.referential, parent=objective, code="1.a", label="Nombre de revues", nombre=True
    )
    value = IndicatorValueFactory(self_evaluation=self_evaluation, indicator=question, value="0")
    return {
        "email": member.email,
        "self_evaluation": str(self_evaluation.public_id),
        "value_id": value.pk,
    }


if __name__ == "__main__":
    django.setup()
    print(json.dumps(build(sys.argv[1])))  # noqa: T201
