"""Create or update the permission groups of agency staff (see accounts/groups.py)."""

from django.core.management.base import BaseCommand

from accounts.groups import AGENCY_STAFF_PERMISSIONS, sync_groups


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        group = sync_groups()
        self.stdout.write(
            f"Groupe « {group.name} » : {group.permissions.count()} permissions "
            f"sur {len(AGENCY_STAFF_PERMISSIONS)} modèles."
        )
