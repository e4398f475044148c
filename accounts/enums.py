from django.db import models


class UserKind(models.TextChoices):
    ETABLISSEMENT = "etablissement", "établissement"
    ARS = "ars", "ARS"
    AM = "am", "Assurance Maladie"
    OMEDIT = "omedit", "OMEDIT"
