# The question's attachments move from `documents` to `evaluation` (issue 10), rows kept:
# 1. the model enters evaluation's state on its existing table (documents' 0003 removed it from theirs);
# 2. the table is renamed evaluation_attachment, and its two constraints renamed to match;
# 3. its content type moves to evaluation, with the permissions and admin log entries that point to it.
# The table has no trigger (the append-only ones are on the audit tables), so none is to be carried over.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    _relabel(apps, schema_editor, "documents", "evaluation")


def move_content_type_back(apps, schema_editor):
    _relabel(apps, schema_editor, "evaluation", "documents")


def _relabel(apps, schema_editor, old, new):
    """On a fresh database there is no content type yet (post_migrate creates them): nothing to move.
    If the new one already exists, the old one is left for `remove_stale_contenttypes`."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_types = ContentType.objects.using(schema_editor.connection.alias)
    if not content_types.filter(app_label=new, model="attachment").exists():
        content_types.filter(app_label=old, model="attachment").update(app_label=new)


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('documents', '0003_attachment_moves_to_evaluation'),
        ('evaluation', '0004_node_region'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Attachment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('attached_at', models.DateTimeField(auto_now_add=True, verbose_name='joint le')),
                        ('withdrawn_at', models.DateTimeField(blank=True, null=True, verbose_name='retiré le')),
                        ('attached_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='joint par')),
                        ('document', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='documents.document', verbose_name='document')),
                        ('indicator_value', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='evaluation.indicatorvalue', verbose_name='question')),
                        ('withdrawn_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='retiré par')),
                    ],
                    options={
                        'verbose_name': 'pièce jointe à une question',
                        'verbose_name_plural': 'pièces jointes aux questions',
                        'ordering': ['indicator_value', 'attached_at'],
                        'db_table': 'documents_attachment',
                        'constraints': [
                            models.UniqueConstraint(fields=('document', 'indicator_value'), name='documents_attachment_unique'),
                            models.CheckConstraint(condition=models.Q(('withdrawn_at__isnull', True), ('withdrawn_by__isnull', False), _connector='OR'), name='documents_attachment_withdrawn_by'),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='attachment', table=None),
        migrations.RemoveConstraint(model_name='attachment', name='documents_attachment_unique'),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.UniqueConstraint(fields=('document', 'indicator_value'), name='evaluation_attachment_unique'),
        ),
        migrations.RemoveConstraint(model_name='attachment', name='documents_attachment_withdrawn_by'),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.CheckConstraint(condition=models.Q(('withdrawn_at__isnull', True), ('withdrawn_by__isnull', False), _connector='OR'), name='evaluation_attachment_withdrawn_by'),
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
