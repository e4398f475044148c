from django.db import models


class ScanStatus(models.TextChoices):
    EN_ATTENTE = "en_attente", "en attente"
    SAIN = "sain", "sain"
    INFECTE = "infecte", "infecté"
    ERREUR = "erreur", "erreur"
