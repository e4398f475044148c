"""Static files storages.

django-dsfr emits Subresource Integrity hashes of its pristine CSS and JS files. Django's manifest
storage normally rewrites `url(...)` references inside CSS, which changes the files and breaks
those hashes: the browser then refuses the DSFR stylesheet. With `patterns = ()` the files are
fingerprinted but their content is left untouched (relative URLs keep resolving to the unhashed
copies that the storage also keeps).
"""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(ManifestStaticFilesStorage):
    patterns = ()


class CompressedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = ()
