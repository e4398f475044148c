"""A real clamd for the antivirus tests, on a signature database built from the EICAR test string.

Nothing is downloaded (SECURITY.md §2.3, STACK-NOTES.md trap 15): the 68-byte EICAR string is
written to a temporary folder, `sigtool --md5` turns it into `test.hdb`, and clamd is started in
the foreground with only that database. `make test` installs clamav-daemon and clamav.

Also the fixtures the other document tests share: a private storage folder, and uploaded files.
"""

import shutil
import socket
import subprocess
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile


# The EICAR test file (https://www.eicar.org/download-anti-malware-testfile/), harmless by design.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# sigtool names the signature after the file: clamd reports « Eicar-Test-Signature.UNOFFICIAL FOUND ».
EICAR_SIGNATURE = "Eicar-Test-Signature.UNOFFICIAL"
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


def _which(program: str) -> str | None:
    # clamd lives in /usr/sbin, which is not on a non-root user's PATH on Debian.
    return shutil.which(program) or shutil.which(program, path=_SBIN)


def _answers_ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(path)
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def clamd(tmp_path_factory):
    """Start clamd on an EICAR-only database; yield the path of its unix socket; stop it at the end."""
    clamd_path, sigtool_path = _which("clamd"), _which("sigtool")
    if clamd_path is None or sigtool_path is None:
        pytest.skip("clamd is not installed: apt-get install clamav-daemon clamav (make test installs it)")

    folder = tmp_path_factory.mktemp("clamd")
    assert len(EICAR) == 68
    (folder / "Eicar-Test-Signature").write_bytes(EICAR)
    signature = subprocess.run(
        [sigtool_path, "--md5", "Eicar-Test-Signature"], cwd=folder, check=True, capture_output=True, text=True
    ).stdout
    assert signature.endswith(":68:Eicar-Test-Signature\n"), signature
    database = folder / "database"
    database.mkdir()
    (database / "test.hdb").write_text(signature)
    # A short path: unix socket paths are limited to 107 bytes.
    socket_path = str(folder / "clamd.sock")
    config = folder / "clamd.conf"
    config.write_text(
        f"Foreground yes\nLocalSocket {socket_path}\nDatabaseDirectory {database}\nTemporaryDirectory {folder}\n"
        "StreamMaxLength 50M\nLogTime yes\n"
    )
    log = (folder / "clamd.log").open("wb")
    process = subprocess.Popen([clamd_path, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _answers_ping(socket_path):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"clamd did not start:\n{(folder / 'clamd.log').read_text(errors='replace')}")
            time.sleep(0.05)
        yield socket_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def storage_dir(settings, tmp_path):
    """A fresh private folder as the documents storage of this test: « nothing stored » is checkable."""
    folder = tmp_path / "documents"
    folder.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": None},
        },
    }
    return folder


@pytest.fixture(params=["memory", "disk"])
def upload(request):
    """Make an UploadedFile as Django hands it over: in memory, or spooled to a temporary file."""
    opened = []

    def make(name, data, content_type="application/octet-stream"):
        if request.param == "memory":
            return SimpleUploadedFile(name, data, content_type=content_type)
        uploaded = TemporaryUploadedFile(name, content_type, len(data), None)
        opened.append(uploaded)
        uploaded.write(data)
        uploaded.seek(0)
        return uploaded

    yield make
    for uploaded in opened:
        uploaded.close()
