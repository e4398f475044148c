"""The question's attachments moved from `documents` to `evaluation` (issue 10): the rows, the constraints
and the content type (with the permissions that point to it) survive the move, both ways."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from evaluation.models import Attachment
from tests.evaluation.factories import AttachmentFactory


BEFORE = [("documents", "0002_document_upload_token"), ("evaluation", "0004_node_region")]
AFTER = [("documents", "0003_attachment_moves_to_evaluation"), ("evaluation", "0005_attachment_from_documents")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def tables():
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def constraint_names(table):
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.django_db(transaction=True)
def test_the_attachments_rows_and_content_type_survive_the_move():
    attachments = [AttachmentFactory(), AttachmentFactory()]
    content_type = ContentType.objects.get(app_label="evaluation", model="attachment")
    permission = Permission.objects.get(content_type=content_type, codename="view_attachment")
    try:
        migrate(BEFORE)
        assert "documents_attachment" in tables() and "evaluation_attachment" not in tables()
        assert {"documents_attachment_unique", "documents_attachment_withdrawn_by"} <= constraint_names(
            "documents_attachment"
        )
        content_type.refresh_from_db()
        assert content_type.app_label == "documents"

        executor = migrate(AFTER)
        leaves = executor.loader.graph.leaf_nodes()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert leaves  # the migration to the latest state ran without error

    assert "evaluation_attachment" in tables() and "documents_attachment" not in tables()
    assert {"evaluation_attachment_unique", "evaluation_attachment_withdrawn_by"} <= constraint_names(
        "evaluation_attachment"
    )
    assert list(Attachment.objects.order_by("pk").values_list("pk", "document_id", "indicator_value_id")) == [
        (attachment.pk, attachment.document_id, attachment.indicator_value_id) for attachment in attachments
    ]
    content_type.refresh_from_db()
    assert (content_type.app_label, content_type.model_class()) == ("evaluation", Attachment)
    assert Permission.objects.get(pk=permission.pk).content_type_id == content_type.pk
    # The constraints still hold, under their new names.
    with pytest.raises(IntegrityError, match="evaluation_attachment_unique"), transaction.atomic():
        AttachmentFactory(document=attachments[0].document, indicator_value=attachments[0].indicator_value)
    # And new rows get fresh ids from the renamed table's sequence.
    assert AttachmentFactory().pk > attachments[-1].pk
