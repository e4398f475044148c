"""One object of every model of the admin, linked as in real life: what admin tests open and check."""

import datetime
import secrets

from django.utils import timezone

from accounts.models import Invitation, LoginPolicy
from evaluation.enums import NoticeKind
from evaluation.models import (
    ClosureReceipt,
    Consolidation,
    ContradictoryRound,
    Decision,
    Evaluation,
    ExtensionRequest,
    Notice,
    Observation,
    ObservationDocument,
    Report,
)
from tests.accounts.factories import UserFactory
from tests.audit.factories import AuditEventFactory
from tests.contracts.factories import (
    AdministrativeContactFactory,
    ContractFactory,
    EntiteJuridiqueFactory,
    EtablissementFactory,
    IdentificationDataFactory,
    MembershipFactory,
)
from tests.documents.factories import DocumentFactory
from tests.evaluation.factories import (
    AttachmentFactory,
    CampaignFactory,
    IndicatorValueFactory,
    IndicatorValueHistoryFactory,
    NodeFactory,
    SelfEvaluationFactory,
    TransitionFactory,
)


def make_object_set(region):
    """One object of every project model, all in `region`, linked as in real life."""
    ej = EntiteJuridiqueFactory(region=region)
    membership = MembershipFactory(ej=ej, signataire=True)
    member = membership.user
    etablissement = EtablissementFactory(ej=ej)
    contract = ContractFactory(ej=ej)
    contract.etablissements.add(etablissement)
    campaign = CampaignFactory(regions=[region], contract_type=contract.contract_type)
    self_evaluation = SelfEvaluationFactory(contract=contract, campaign=campaign)
    objective = NodeFactory(referential=campaign.referential)
    # A question of the region's own part of the referential, under a national objective.
    indicator = NodeFactory(referential=campaign.referential, parent=objective, indicator=True, region=region)
    value = IndicatorValueFactory(self_evaluation=self_evaluation, indicator=indicator, etablissement=etablissement)
    document = DocumentFactory(ej=ej, contract=contract, uploaded_by=member)
    objects = [
        region,
        member,
        ej,
        etablissement,
        IdentificationDataFactory(etablissement=etablissement, validated_by=member),
        membership,
        contract.contract_type,
        contract,
        AdministrativeContactFactory(contract=contract),
        campaign.referential,
        indicator,
        campaign,
        self_evaluation,
        TransitionFactory(self_evaluation=self_evaluation, user=member),
        ExtensionRequest.objects.create(
            self_evaluation=self_evaluation,
            requested_by=member,
            requested_until=campaign.self_assessment_deadline + datetime.timedelta(days=15),
            reason="Départ du référent qualité.",
        ),
        ClosureReceipt.objects.create(
            self_evaluation=self_evaluation,
            file="receipts/attestation.pdf",
            answers_sha256="0" * 64,
            file_sha256="0" * 64,
            closed_by=member,
            closed_at=timezone.now(),
            filled=1,
            total=1,
        ),
        value,
        IndicatorValueHistoryFactory(indicator_value=value, changed_by=member),
        document,
        AttachmentFactory(document=document, indicator_value=value, attached_by=member),
        AuditEventFactory(ej=ej, actor=member, object_repr=str(contract)),
        LoginPolicy.objects.get_or_create(pk=1, defaults={"renewal_cutoff": datetime.date(2025, 11, 3)})[0],
        Invitation.objects.create(
            user=member, token_hash=secrets.token_hex(32), expires_at=timezone.now() + datetime.timedelta(days=7)
        ),
        *_evaluation_objects(self_evaluation, value, document, member),
    ]
    return {type(obj): obj for obj in objects}


def _evaluation_objects(self_evaluation, value, document, member):
    """The evaluation's records of `self_evaluation` (issue 12): decisions, report, round, observation."""
    agent = UserFactory(ars_staff=True, region=self_evaluation.contract.ej.region)
    now = timezone.now()
    contradictory_round = ContradictoryRound.objects.create(
        self_evaluation=self_evaluation,
        number=1,
        deadline=timezone.localdate() + datetime.timedelta(days=30),
        opened_by=agent,
        opened_at=now,
    )
    observation = Observation.objects.create(
        round=contradictory_round, value=value, text="Le plan d'actions a été validé.", written_by=member
    )
    return [
        # « Évaluations » lists closed self-evaluations: another contract's, closed.
        Evaluation.objects.get(
            pk=SelfEvaluationFactory(
                closed=True,
                campaign=self_evaluation.campaign,
                contract=ContractFactory(
                    ej=self_evaluation.contract.ej, contract_type=self_evaluation.contract.contract_type
                ),
            ).pk
        ),
        Decision.objects.create(
            value=value,
            body="ars",
            verdict="non_atteint",
            motivation="Pièce manquante.",
            decided_by=agent,
            decided_at=now,
        ),
        Consolidation.objects.create(
            value=value, verdict="non_atteint", motivation="Pièce manquante.", decided_by=agent, decided_at=now
        ),
        Report.objects.create(
            self_evaluation=self_evaluation,
            version=1,
            file="reports/rapport.pdf",
            file_sha256="0" * 64,
            generated_by=agent,
            generated_at=now,
        ),
        contradictory_round,
        observation,
        ObservationDocument.objects.create(observation=observation, document=document, added_by=member),
        Notice.objects.create(
            self_evaluation=self_evaluation,
            kind=NoticeKind.RELANCE_J7,
            recipient=member,
            deadline=self_evaluation.campaign.self_assessment_deadline,
        ),
    ]
