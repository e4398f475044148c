from django.db import models


class ValueType(models.TextChoices):
    """How an indicator is answered; each type has its input, validation and target rule."""

    OUI_NON = "oui_non", "oui/non"
    TAUX = "taux", "taux (%)"
    NOMBRE = "nombre", "nombre"
    TEXTE = "texte", "texte"
    DATE = "date", "date"
    LISTE = "liste", "liste de choix"


class FilledBy(models.TextChoices):
    """Who answers an indicator. Only « établissement » questions count in the fill percentage."""

    ETABLISSEMENT = "etablissement", "établissement"
    ARS = "ars", "ARS"
    AM = "am", "Assurance Maladie"
    OMEDIT = "omedit", "OMEDIT"


class AnswerLevel(models.TextChoices):
    """Whether an indicator is answered once for the EJ or once for each ET of the contract."""

    EJ = "ej", "entité juridique"
    ET = "et", "chaque établissement"


class CampaignState(models.TextChoices):
    PREPARATION = "preparation", "en préparation"
    OUVERTE = "ouverte", "ouverte"
    TERMINEE = "terminee", "terminée"


class SelfEvaluationState(models.TextChoices):
    """The lifecycle of a self-evaluation (DESIGN.md §4)."""

    PRE_CAMPAGNE = "pre_campagne", "pré-campagne"
    AUTO_EVALUATION = "auto_evaluation", "auto-évaluation"
    CLOTUREE = "cloturee", "clôturée"
    EN_EVALUATION = "en_evaluation", "en évaluation"
    RAPPORT_ENVOYE = "rapport_envoye", "rapport envoyé"
    CONTRADICTOIRE = "contradictoire", "contradictoire"
    DEFINITIVE = "definitive", "définitive"

    @classmethod
    def closed_states(cls):
        """States in which the establishment's input is locked (shown as « Consultation »)."""
        return [cls.CLOTUREE, cls.EN_EVALUATION, cls.RAPPORT_ENVOYE, cls.CONTRADICTOIRE, cls.DEFINITIVE]


# « Etat en cours » of a contract, in the manual's words.
STATE_DISPLAY = {
    SelfEvaluationState.PRE_CAMPAGNE: "Pré-campagne",
    SelfEvaluationState.AUTO_EVALUATION: "Auto-Evaluation",
    SelfEvaluationState.CLOTUREE: "Clôturée",
    SelfEvaluationState.EN_EVALUATION: "En évaluation",
    SelfEvaluationState.RAPPORT_ENVOYE: "Rapport envoyé",
    SelfEvaluationState.CONTRADICTOIRE: "Période contradictoire",
    SelfEvaluationState.DEFINITIVE: "Définitive",
}


class ExtensionStatus(models.TextChoices):
    EN_ATTENTE = "en_attente", "en attente"
    ACCORDEE = "accordee", "accordée"
    REFUSEE = "refusee", "refusée"
