from django.db import migrations

from ecars.lib.append_only import make_append_only


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_initial")]

    operations = [make_append_only("evaluation_transition", "evaluation_indicatorvaluehistory")]
