from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Documents"

    def ready(self):
        # « Documents du contrat » on the contract page (contracts/hooks.py): `contracts` never imports
        # `documents`, it asks its hooks.
        from contracts import hooks
        from documents.contract_page import documents_block

        hooks.contract_page.register(documents_block)
