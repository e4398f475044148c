"""Every account gets its allauth address row, and the permission group of agents goes.

allauth lifts the login lockout after a renewal through the address rows: seeded, imported or
admin-created accounts had none, and stayed locked out (issue 9). Powers now come from
ecars/privileges.py through accounts.backends, not from groups.
"""

from django.db import migrations


def add_missing_address_rows(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for user in User.objects.exclude(pk__in=EmailAddress.objects.values("user_id")).only("pk", "email").iterator():
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)


def drop_the_agents_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name="Agents ARS").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_login_policy_and_invitations"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(add_missing_address_rows, migrations.RunPython.noop),
        migrations.RunPython(drop_the_agents_group, migrations.RunPython.noop),
    ]
