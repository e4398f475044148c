from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = "Contrats"

    def ready(self):
        from contracts import account_ties

        account_ties.register()
