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


class EvaluatingBody(models.TextChoices):
    """The three bodies that evaluate a CAQES contract, each for the questions the referential gives it."""

    ARS = "ars", "ARS"
    AM = "am", "Assurance Maladie"
    OMEDIT = "omedit", "OMEDIT"


class Verdict(models.TextChoices):
    """A decision on one question: a body's, or the consolidated one the establishment reads."""

    ATTEINT = "atteint", "Atteint"
    PARTIELLEMENT_ATTEINT = "partiellement_atteint", "Partiellement atteint"
    NON_ATTEINT = "non_atteint", "Non atteint"
    NON_EVALUABLE = "non_evaluable", "Non évaluable"


class ObservationStatus(models.TextChoices):
    """An establishment's observation on a decision: drafted, then sent with the others at once."""

    BROUILLON = "brouillon", "brouillon"
    ENVOYEE = "envoyee", "envoyée"


class AnswerLevel(models.TextChoices):
    """Whether an indicator is answered once for the EJ or once for each ET of the contract."""

    EJ = "ej", "entité juridique"
    ET = "et", "chaque établissement"


class SelfEvaluationState(models.TextChoices):
    """The lifecycle of a self-evaluation (DESIGN.md §4).

    The labels are « Etat en cours » in the manual's words, capitals included: they are the only labels of a
    state, shown alike on the pages, in the messages and in the admin (`get_state_display()`).
    """

    PRE_CAMPAGNE = "pre_campagne", "Pré-campagne"
    AUTO_EVALUATION = "auto_evaluation", "Auto-Evaluation"
    CLOTUREE = "cloturee", "Clôturée"
    EN_EVALUATION = "en_evaluation", "En évaluation"
    RAPPORT_ENVOYE = "rapport_envoye", "Rapport envoyé"
    CONTRADICTOIRE = "contradictoire", "Période contradictoire"
    DEFINITIVE = "definitive", "Définitive"

    @classmethod
    def closed_states(cls):
        """States in which the establishment's input is locked (shown as « Consultation »)."""
        return [cls.CLOTUREE, cls.EN_EVALUATION, cls.RAPPORT_ENVOYE, cls.CONTRADICTOIRE, cls.DEFINITIVE]


class ExtensionStatus(models.TextChoices):
    EN_ATTENTE = "en_attente", "en attente"
    ACCORDEE = "accordee", "accordée"
    REFUSEE = "refusee", "refusée"


class AssignmentScope(models.TextChoices):
    """What « Confier » hands over: the question, or every question of its objective."""

    QUESTION = "question", "cette question"
    OBJECTIF = "objectif", "toutes les questions de l'objectif"


class NoticeKind(models.TextChoices):
    """The e-mails of a campaign's calendar, each sent once to each person (evaluation.models.Notice)."""

    OUVERTURE = "ouverture", "ouverture de l'auto-évaluation"
    RELANCE_J30 = "relance_j30", "relance J-30"
    RELANCE_J7 = "relance_j7", "relance J-7"
    RELANCE_J1 = "relance_j1", "relance J-1"
    CLOTURE_OFFICE = "cloture_office", "clôture d'office"
    EVALUATION_ATTENDUE = "evaluation_attendue", "relance des évaluateurs : clôturée depuis 30 jours"
    OBSERVATIONS_A_REPONDRE = "observations_a_repondre", "relance des évaluateurs : observations sans réponse"

    @classmethod
    def establishment_reminders(cls):
        """J-30, J-7, J-1: (kind, days before the deadline from which it is due), the most urgent first."""
        return [(cls.RELANCE_J1, 1), (cls.RELANCE_J7, 7), (cls.RELANCE_J30, 30)]
