import datetime
import hashlib

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from evaluation.enums import SelfEvaluationState, ValueType
from evaluation.models import (
    Attachment,
    Campaign,
    ClosureReceipt,
    IndicatorValue,
    IndicatorValueHistory,
    Node,
    Referential,
    SelfEvaluation,
    Transition,
)
from tests.contracts.factories import ContractFactory, ContractTypeFactory
from tests.documents.factories import DocumentFactory


class ReferentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referential

    contract_type = factory.SubFactory(ContractTypeFactory)
    name = factory.Sequence(lambda n: f"Référentiel CAQES {n}")


class NodeFactory(factory.django.DjangoModelFactory):
    """A grouping node by default; `indicator=True` (or a value type trait) makes a question."""

    class Meta:
        model = Node

    referential = factory.SubFactory(ReferentialFactory)
    code = factory.Sequence(lambda n: f"{n + 1}.1")
    label = factory.Sequence(lambda n: f"Objectif {n + 1}")
    position = factory.Sequence(int)

    class Params:
        indicator = factory.Trait(value_type=ValueType.OUI_NON, default_target="1")
        oui_non = factory.Trait(value_type=ValueType.OUI_NON, default_target="1")
        taux = factory.Trait(value_type=ValueType.TAUX, unit="%", default_target="80")
        nombre = factory.Trait(value_type=ValueType.NOMBRE)
        texte = factory.Trait(value_type=ValueType.TEXTE)
        liste = factory.Trait(value_type=ValueType.LISTE, choices=["Aucune", "Partielle", "Complète"])


def _today():
    return timezone.localdate()


class CampaignFactory(factory.django.DjangoModelFactory):
    """A campaign whose auto-évaluation is open today."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"caqes-{n}")
    name = factory.Sequence(lambda n: f"Campagne CAQES {n}")
    contract_type = factory.SubFactory(ContractTypeFactory)
    year = factory.LazyFunction(lambda: _today().year - 1)
    referential = factory.SubFactory(ReferentialFactory, contract_type=factory.SelfAttribute("..contract_type"))
    precampaign_start = factory.LazyFunction(lambda: _today() - datetime.timedelta(days=40))
    precampaign_end = factory.LazyFunction(lambda: _today() - datetime.timedelta(days=33))
    self_assessment_start = factory.LazyFunction(lambda: _today() - datetime.timedelta(days=10))
    self_assessment_deadline = factory.LazyFunction(lambda: _today() + datetime.timedelta(days=30))

    @factory.post_generation
    def regions(self, create, extracted, **kwargs):
        if create and extracted:
            self.regions.set(extracted)


class SelfEvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SelfEvaluation

    contract = factory.SubFactory(ContractFactory)
    campaign = factory.SubFactory(CampaignFactory, contract_type=factory.SelfAttribute("..contract.contract_type"))
    state = SelfEvaluationState.AUTO_EVALUATION

    class Params:
        closed = factory.Trait(state=SelfEvaluationState.CLOTUREE, closed_at=factory.LazyFunction(timezone.now))


class IndicatorValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IndicatorValue

    self_evaluation = factory.SubFactory(SelfEvaluationFactory)
    indicator = factory.SubFactory(
        NodeFactory, indicator=True, referential=factory.SelfAttribute("..self_evaluation.campaign.referential")
    )

    class Params:
        filled = factory.Trait(value="1")
        not_applicable_justified = factory.Trait(
            not_applicable=True, not_applicable_reason="Pas d'activité concernée dans l'établissement."
        )


class TransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transition

    self_evaluation = factory.SubFactory(SelfEvaluationFactory)
    from_state = SelfEvaluationState.PRE_CAMPAGNE
    to_state = SelfEvaluationState.AUTO_EVALUATION


class IndicatorValueHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IndicatorValueHistory

    indicator_value = factory.SubFactory(IndicatorValueFactory)
    version = 2
    changes = factory.LazyFunction(lambda: {"value": ["", "1"]})


class ClosureReceiptFactory(factory.django.DjangoModelFactory):
    """A stored attestation de clôture; `content` gives the PDF's bytes (its SHA-256 follows)."""

    class Meta:
        model = ClosureReceipt

    class Params:
        content = b"%PDF-1.7\n% attestation de cloture\n%%EOF\n"

    self_evaluation = factory.SubFactory(SelfEvaluationFactory, closed=True)
    file = factory.LazyAttribute(lambda receipt: ContentFile(receipt.content, name="attestation.pdf"))
    file_sha256 = factory.LazyAttribute(lambda receipt: hashlib.sha256(receipt.content).hexdigest())
    answers_sha256 = hashlib.sha256(b"answers").hexdigest()
    closed_by = factory.SubFactory("tests.accounts.factories.UserFactory")
    closed_at = factory.LazyFunction(timezone.now)
    filled = 1
    total = 1


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    document = factory.SubFactory(DocumentFactory)
    indicator_value = factory.SubFactory(IndicatorValueFactory)
    attached_by = factory.SelfAttribute("document.uploaded_by")
