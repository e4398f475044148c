"""Storages: the refusing default, and the static files'.

No file of ours goes to Django's `default` storage: every FileField names its storage (the private
`documents` one). `NoDefaultStorage` makes a field or a library that forgets it fail at once, rather
than drop a file, unnoticed, among the private documents (or anywhere else).

Static files:
django-dsfr emits Subresource Integrity hashes of its pristine CSS and JS files. Django's manifest
storage normally rewrites `url(...)` references inside CSS, which changes the files and breaks
those hashes: the browser then refuses the DSFR stylesheet. With `patterns = ()` the files are
fingerprinted but their content is left untouched (relative URLs keep resolving to the unhashed
copies that the storage also keeps).
"""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class NoDefaultStorage(Storage):
    def _refuse(self, *args, **kwargs):
        raise ImproperlyConfigured(
            "e-CARS has no default file storage: give the FileField (or the code) its storage, "
            "e.g. documents.models.documents_storage."
        )

    _open = _save = delete = exists = listdir = size = url = path = _refuse
    get_accessed_time = get_created_time = get_modified_time = _refuse


class StaticFilesStorage(ManifestStaticFilesStorage):
    patterns = ()


class CompressedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = ()
