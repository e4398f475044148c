"""The URL arguments of the contracts pages, for attributing refused accesses (ecars.lib.url_objects)."""

from contracts.models import Contract, EntiteJuridique, Etablissement
from ecars.lib.url_objects import register


register("ej", EntiteJuridique, ej_field="", visible_to=EntiteJuridique.objects.for_user)
register("contract", Contract, ej_field="ej", visible_to=Contract.objects.for_user)
register(
    "etablissement",
    Etablissement,
    ej_field="ej",
    visible_to=lambda user: Etablissement.objects.filter(ej__in=EntiteJuridique.objects.for_user(user)),
)
