# The question's attachments belong to `evaluation` (issue 10): the model leaves this app's state only.
# Its table, rows and constraints stay where they are; evaluation's
# 0005_attachment_from_documents takes the model over, renames the table and moves its content type.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('documents', '0002_document_upload_token'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Attachment')],
            database_operations=[],
        ),
    ]
