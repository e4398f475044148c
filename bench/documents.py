"""Benchmark: « Récupérer tous les documents » of a question and a 20 Mo upload, against the floors.

Run: `make bench` (PostgreSQL at DATABASE_URL, default the local one), or this benchmark alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecars_bench .venv/bin/python bench/documents.py

BENCH_DOCUMENTS_ROUNDS (default 7) sets the number of interleaved rounds. With the documents stored in a temporary
folder and the antivirus off, it measures:

- in-process, the streamed ZIP of a question with 50 documents of 1 MiB (random bytes), read to the end through
  Django's test client by a member of the EJ, against the floor: `zip -0 -q -j` of the same 50 files (Python's
  zipfile, stored, to /dev/null when `zip` is not installed), and the memory it allocates at its peak
  (tracemalloc);
- behind gunicorn on loopback, as DESIGN.md §7 writes the floor: a 20 Mo PDF added under a question by a member
  (session, CSRF, multipart parsing, validation, storage, rows, audit, redirect), sent by a Python client
  (http.client) to the portal under gunicorn (gunicorn.conf.py: sync workers, cores + 1), against the floor: the
  same body sent to a raw WSGI sink (bench/sink.py) under the same gunicorn, on another port, reading by chunks of
  64 KiB as Django's own handlers and most WSGI code do; and, as a second line, to a sink reading by chunks of 1 MiB
  as the portal's handlers do (documents/upload_handlers.py). Each round sends UPLOADS_PER_ROUND bodies to each
  sink, then as many to the portal (each stored file checked and removed after its upload, untimed); the medians
  of all the uploads' times. What the portal adds to reading the body: the multipart parsing, writing the
  temporary file, one pass of validation with the SHA-256 (about 11 ms for 20 Mo here: `openssl speed -evp
  sha256` gives 1.8 Go/s), the rows, the audit event and the redirect;
- the portal's workers' memory (RSS, psutil) after a warm-up of two uploads per worker, then after the timed
  uploads: the largest growth of one worker.

and prints the ratios the budgets of DESIGN.md §7 are written in. Nothing here is a test: no assertion, only
figures to read (and to compare between commits).
"""

import gc
import hashlib
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import psutil


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
# A private folder of our own for the documents, and no antivirus: with the immediate task backend
# of bench.settings a configured clamd would scan inside the upload's request.
WORK_DIR = Path(tempfile.mkdtemp(prefix="ecars-bench-documents-"))
for _name in ("DOCUMENTS_STORAGE", "DOCUMENTS_ROOT", "CLAMD_SOCKET", "CLAMD_HOST"):
    os.environ.pop(f"{_name}_FILE", None)
os.environ.update(DOCUMENTS_STORAGE="local", DOCUMENTS_ROOT=str(WORK_DIR / "storage"), CLAMD_SOCKET="", CLAMD_HOST="")

import django  # noqa: E402


django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402


ROUNDS = int(os.environ.get("BENCH_DOCUMENTS_ROUNDS", 7))
DOCUMENTS = 50
MIB = 1024 * 1024
MB = 1000 * 1000  # figures are printed in Mo (10⁶ bytes), as DESIGN.md §7 writes its budgets
ROOT = Path(__file__).resolve().parent.parent
PORTAL_PORT = int(os.environ.get("BENCH_PORTAL_PORT", 8941))
SINK_PORT = int(os.environ.get("BENCH_SINK_PORT", 8942))
MEBIBYTE_SINK_PORT = int(os.environ.get("BENCH_MEBIBYTE_SINK_PORT", 8943))
UPLOADS_PER_ROUND = 3


def median_ms(function, rounds=ROUNDS, warm_up=2, after=None):
    """The median of `rounds` timed calls; `after` (cleaning up) runs after each call, untimed."""
    timings = []
    for round_number in range(warm_up + rounds):
        start = time.perf_counter()
        function()
        elapsed = (time.perf_counter() - start) * 1000
        if after is not None:
            after()
        if round_number >= warm_up:
            timings.append(elapsed)
    return statistics.median(timings)


def peak_growth_mb(function):
    """The peak of the memory allocated by one call (Python's allocators, as tracemalloc sees them)."""
    gc.collect()
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MB


def budget(figure, relation, limit, unit):
    """« (budget ≥ 1.0 ×: met) »: the budget of DESIGN.md §7 and whether this run meets it."""
    met = figure >= limit if relation == "≥" else figure <= limit
    return f"(budget {relation} {limit} {unit}: {'met' if met else 'NOT met'})"


def build_world():
    from contracts.enums import MembershipRole
    from documents.enums import ScanStatus
    from tests.contracts.factories import ContractFactory, MembershipFactory
    from tests.documents.factories import DocumentFactory
    from tests.evaluation.factories import AttachmentFactory, IndicatorValueFactory, SelfEvaluationFactory

    membership = MembershipFactory(role=MembershipRole.SIGNATAIRE)
    contract = ContractFactory(ej=membership.ej)
    self_evaluation = SelfEvaluationFactory(contract=contract)  # open today, as in the tests
    zip_value = IndicatorValueFactory(self_evaluation=self_evaluation)
    upload_value = IndicatorValueFactory(self_evaluation=self_evaluation)
    documents = []
    for number in range(1, DOCUMENTS + 1):
        data = os.urandom(MIB)  # incompressible, like the PDFs and images users send
        document = DocumentFactory(
            ej=membership.ej,
            uploaded_by=membership.user,
            file=ContentFile(data, name="piece"),  # stored through the documents storage
            original_name=f"Pièce justificative {number:02}.pdf",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            scan_status=ScanStatus.SAIN,
        )
        AttachmentFactory(document=document, indicator_value=zip_value)
        documents.append(document)
    return membership.user, zip_value, upload_value, documents


def zip_floor(paths):
    """`zip -0` of the files, or, without `zip`, Python's zipfile (stored) to /dev/null."""
    zip_program = shutil.which("zip")
    out = WORK_DIR / "floor" / "out.zip"
    out.parent.mkdir()
    if zip_program:
        command = [zip_program, "-0", "-q", "-j", str(out), *map(str, paths)]

        def run():
            subprocess.run(command, check=True)

        return "zip -0 -q -j", run, lambda: out.unlink(missing_ok=True)  # zip would update an existing archive

    def run_python():
        with open(os.devnull, "wb") as sink, zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in paths:
                archive.write(path, arcname=path.name)

    return "Python zipfile, stored, to /dev/null (no `zip` installed)", run_python, None


def serve(application: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    """`application` under gunicorn as gunicorn.conf.py sets it, on loopback, once it accepts connections."""
    process = subprocess.Popen(  # noqa: S603
        [
            ROOT / ".venv" / "bin" / "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
            application,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{application} did not start on port {port}: see {log}")


def post(port: int, path: str, headers: dict, body: bytes) -> tuple[int, float]:
    """Send `body` on a new connection, read the whole answer; returns its status and the seconds it took."""
    start = time.perf_counter()
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection_.request("POST", path, body=body, headers=headers)
    response = connection_.getresponse()
    response.read()
    connection_.close()
    return response.status, time.perf_counter() - start


def warm_up(master: subprocess.Popen, upload, sinks, per_worker: int = 2) -> None:
    """Upload until every worker of `master` has served `per_worker` uploads (imported and allocated what an upload
    needs), so that the memory growth measured next is the uploads' own: the kernel gives a connection to whichever
    worker accepts it first, and a fixed number of warm-up uploads sometimes left a worker that had served none (its
    first upload then counted 10 Mo of imports as growth). The worker that served an upload is the one whose CPU time
    grew most meanwhile."""
    workers = psutil.Process(master.pid).children()
    served = dict.fromkeys((worker.pid for worker in workers), 0)
    for _ in range(20 * len(workers)):
        before = {worker.pid: sum(worker.cpu_times()[:2]) for worker in workers}
        upload()
        sinks()
        busiest = max(workers, key=lambda worker: sum(worker.cpu_times()[:2]) - before[worker.pid])
        served[busiest.pid] += 1
        if min(served.values()) >= per_worker:
            return
    raise RuntimeError(f"a worker served no upload during the warm-up: {served}")


def workers_rss(master: subprocess.Popen) -> dict[int, int]:
    """The resident memory of each gunicorn worker (the master's children), in bytes."""
    return {child.pid: child.memory_info().rss for child in psutil.Process(master.pid).children()}


def main():
    from documents.models import Document, documents_storage
    from documents.validation import MAX_SIZE
    from tests.documents.corpus import sample

    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        user, zip_value, upload_value, documents = build_world()
        with connection.cursor() as cursor:  # as in production, the planner knows the tables
            cursor.execute("ANALYZE")
        client = Client()
        client.force_login(user)

        # « Récupérer tous les documents »
        zip_url = reverse(
            "evaluation:question_zip", args=[zip_value.self_evaluation.public_id, zip_value.indicator.code]
        )

        def read_zip():
            response = client.get(zip_url)
            if response.status_code != 200:
                raise RuntimeError(f"the ZIP answered {response.status_code}")
            # Read to the end, keeping nothing, as a WSGI server sends it; the client then closes it.
            return sum(len(chunk) for chunk in response.streaming_content)

        zip_size = read_zip()
        paths = [Path(documents_storage().path(document.file.name)) for document in documents]
        floor_name, floor, floor_after = zip_floor(paths)
        floor_zip = median_ms(floor, after=floor_after)
        ours_zip = median_ms(read_zip)
        zip_memory = peak_growth_mb(read_zip)

        # 20 Mo upload: one multipart body, the same bytes to the portal and to the raw sink, both under gunicorn.
        pdf = sample("valid.pdf")
        padded = pdf[:-6] + bytes(MAX_SIZE - len(pdf)) + pdf[-6:]  # « %%EOF » stays at the end
        body = encode_multipart(BOUNDARY, {"documents": SimpleUploadedFile("justificatif.pdf", padded)})
        upload_path = reverse(
            "evaluation:question_upload", args=[upload_value.self_evaluation.public_id, upload_value.indicator.code]
        )
        csrf_secret = get_random_string(32)
        cookies = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; "
        cookies += f"{settings.CSRF_COOKIE_NAME}={csrf_secret}"
        headers = {
            "Host": "localhost",
            "Cookie": cookies,
            "X-CSRFToken": csrf_secret,
            "Content-Type": MULTIPART_CONTENT,
            "Content-Length": str(len(body)),
        }
        # The servers read the database this process made (its test database) and store in its folder.
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
            "PYTHONPATH": str(ROOT),
        }
        portal = serve("ecars.wsgi", PORTAL_PORT, env, WORK_DIR / "portal.log")
        floor_server = serve("bench.sink:application", SINK_PORT, env, WORK_DIR / "sink.log")
        mebibyte_server = serve(
            "bench.sink:application_mebibyte", MEBIBYTE_SINK_PORT, env, WORK_DIR / "sink-mebibyte.log"
        )
        last_pk = Document.objects.latest("pk").pk

        def upload() -> float:
            status, seconds = post(PORTAL_PORT, upload_path, headers, body)
            if status != 302:  # back to the question, with « … a été ajouté » or why not
                raise RuntimeError(f"the upload answered {status}: see {WORK_DIR / 'portal.log'}")
            remove_uploaded_file()
            return seconds

        def remove_uploaded_file():
            """Every upload stores a new 20 Mo file: remove it (untimed), so that the folder stays as it was."""
            nonlocal last_pk
            uploaded = list(Document.objects.filter(pk__gt=last_pk).order_by("pk"))
            if len(uploaded) != 1:  # a refused file is redirected too: make sure one was stored
                raise RuntimeError(f"the upload created {len(uploaded)} documents instead of one")
            if documents_storage().size(uploaded[0].file.name) != len(padded):
                raise RuntimeError("the stored file is not the one sent")
            documents_storage().delete(uploaded[0].file.name)
            last_pk = uploaded[0].pk

        def sink(port=SINK_PORT) -> float:
            status, seconds = post(port, upload_path, headers, body)
            if status != 204:
                raise RuntimeError(f"the sink answered {status}")
            return seconds

        try:
            workers = len(workers_rss(portal))
            warm_up(portal, upload, lambda: (sink(), sink(MEBIBYTE_SINK_PORT)))
            before = workers_rss(portal)
            floor_times, mebibyte_times, upload_times = [], [], []
            for _ in range(ROUNDS):
                floor_times += [sink() for _ in range(UPLOADS_PER_ROUND)]
                mebibyte_times += [sink(MEBIBYTE_SINK_PORT) for _ in range(UPLOADS_PER_ROUND)]
                upload_times += [upload() for _ in range(UPLOADS_PER_ROUND)]
            after = workers_rss(portal)
        finally:
            for server in (portal, floor_server, mebibyte_server):
                server.terminate()
                server.wait(timeout=30)
        growth = max((after[pid] - rss for pid, rss in before.items() if pid in after), default=0) / MB
        floor_upload, mebibyte_upload, ours_upload = (
            statistics.median(times) * 1000 for times in (floor_times, mebibyte_times, upload_times)
        )

        zip_ratio = floor_zip / ours_zip
        upload_ratio = floor_upload / ours_upload  # throughputs: ours / floor
        floor_rate, mebibyte_rate, our_rate = (
            len(body) / MB / (timing / 1000) for timing in (floor_upload, mebibyte_upload, ours_upload)
        )
        print(f"« Récupérer tous les documents » of {DOCUMENTS} documents of 1 MiB ({zip_size / MB:.1f} Mo ZIP)")
        print(f"  {floor_name + ' (floor)':<30}: {floor_zip:7.2f} ms")
        print(f"  Streamed ZIP, read to the end : {ours_zip:7.2f} ms")
        print(f"  → floor / ZIP speed           : {zip_ratio:7.2f} ×  {budget(zip_ratio, '≥', 1.0, '×')}")
        print(f"  Memory growth while reading   : {zip_memory:7.2f} Mo  {budget(zip_memory, '≤', 5, 'Mo')}")
        print(
            f"20 Mo upload behind gunicorn on loopback: a {len(padded):,}-byte PDF, "
            f"{len(body):,}-byte multipart body, {len(upload_times)} uploads each"
        )
        print(f"  Raw WSGI sink, 64 KiB (floor) : {floor_upload:7.2f} ms   {floor_rate:7.1f} Mo/s")
        print(f"  Raw WSGI sink, 1 MiB reads    : {mebibyte_upload:7.2f} ms   {mebibyte_rate:7.1f} Mo/s")
        print(f"  Upload under a question       : {ours_upload:7.2f} ms   {our_rate:7.1f} Mo/s")
        print(f"  → upload / sink throughput    : {upload_ratio:7.2f} ×  {budget(upload_ratio, '≥', 0.7, '×')}")
        mebibyte_ratio = mebibyte_upload / ours_upload
        print(f"  → upload / 1 MiB sink         : {mebibyte_ratio:7.2f} ×  (the same chunks as the portal's parser)")
        rss = ", ".join(f"{after[pid] / MB:.0f}" for pid in sorted(after))
        print(
            f"  Worker memory growth (RSS)    : {growth:7.2f} Mo  {budget(growth, '≤', 8, 'Mo')} "
            f"(largest of {workers} workers; RSS after: {rss} Mo)"
        )
    finally:
        runner.teardown_databases(old_config)
        shutil.rmtree(WORK_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
