from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = "Évaluation"

    def ready(self):
        # What the contract pages show of the self-evaluations (contracts/hooks.py): `contracts`
        # never imports `evaluation`, it asks its hooks.
        from contracts import hooks
        from evaluation import contract_page

        hooks.contract_page.register(contract_page.self_evaluation_blocks)
        hooks.contract_states.register(contract_page.current_states)
        hooks.precampaign.register(contract_page.precampaign_window)

        # The question's documents in what `documents` does for a contract or a document (documents/hooks.py):
        # `documents` never imports `evaluation`, it asks its hooks.
        from documents import hooks as documents_hooks
        from evaluation import attachments, receipts, reports

        documents_hooks.contract_archive_entries.register(attachments.contract_archive_entries)
        documents_hooks.contract_has_other_documents.register(attachments.contract_has_question_documents)
        documents_hooks.document_contracts.register(attachments.document_question_contracts)
        documents_hooks.stored_files.register(receipts.stored_receipts)
        documents_hooks.stored_files.register(reports.stored_reports)
        documents_hooks.contract_year.register(attachments.contract_year)
