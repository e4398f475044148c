from django.urls import path

from contracts.views import contract, ej, identification, members


app_name = "contracts"

# URL arguments are public identifiers named after their model (ej, contract, etablissement…):
# the isolation test fills them from that name (tests/contracts/test_isolation.py).
urlpatterns = [
    path("", ej.home, name="home"),
    path("ej/<uuid:ej>/", ej.ej_detail, name="ej_detail"),
    path("ej/<uuid:ej>/membres/", members.members, name="members"),
    path("ej/<uuid:ej>/membres/role/", members.change_member_role, name="change_member_role"),
    path("ej/<uuid:ej>/membres/retirer/", members.remove_member, name="remove_member"),
    path("contrats/<uuid:contract>/", contract.contract_detail, name="contract_detail"),
    path("contrats/<uuid:contract>/contacts/", contract.contract_contacts, name="contract_contacts"),
    path("contrats/<uuid:contract>/etablissements/", contract.contract_etablissements, name="contract_etablissements"),
    path(
        "contrats/<uuid:contract>/etablissements/<uuid:etablissement>/identification/",
        identification.identification,
        name="identification",
    ),
]
