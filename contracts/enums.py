from django.db import models


class MembershipRole(models.TextChoices):
    """What a member of an EJ may do in its self-evaluations."""

    LECTEUR = "lecteur", "lecteur"
    CONTRIBUTEUR = "contributeur", "contributeur"
    SIGNATAIRE = "signataire", "signataire"


class ContractStatus(models.TextChoices):
    EN_PREPARATION = "en_preparation", "En préparation"
    SIGNE = "signe", "Signé"
    RESILIE = "resilie", "Résilié"
    ECHU = "echu", "Échu"
