"""The production settings of the drills' processes (tests/ecars/production_settings.py), with a verification code's
validity read from DRILL_CODE_TIMEOUT (seconds) so that a drill can let a queued code expire in seconds, not 10
minutes."""

import os

from tests.ecars.production_settings import *  # noqa: F403


_CODE_TIMEOUT = os.environ.get("DRILL_CODE_TIMEOUT")
if _CODE_TIMEOUT:
    ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT = int(_CODE_TIMEOUT)
