"""Benchmark: « Récupérer tous les documents » of a question and a 20 Mo upload, against the floors.

Run: `make bench` (PostgreSQL at DATABASE_URL, default the local one), or this benchmark alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecars_bench .venv/bin/python bench/documents.py

BENCH_DOCUMENTS_ROUNDS (default 7) sets the number of timed rounds. It measures, in one run and
in-process (no network), with the documents stored in a temporary folder and the antivirus off:

- the streamed ZIP of a question with 50 documents of 1 MiB (random bytes), read to the end
  through Django's test client by a member of the EJ, against the floor: `zip -0 -q -j` of the
  same 50 files (Python's zipfile, stored, to /dev/null when `zip` is not installed);
- a 20 Mo PDF added under a question (session, CSRF, multipart parsing, validation, storage,
  rows, audit, redirect) through Django's WSGI handler, against the floor: a raw WSGI app that
  reads the same body in 64 KiB chunks and answers 204; both are called with identical environs;
- the memory each of the two allocates at its peak (tracemalloc, one more request each);

and prints the ratios the budgets of DESIGN.md §7 are written in. Nothing here is a test: no
assertion, only figures to read (and to compare between commits).

Caveat on the upload's ratio: called in-process, the sink only copies bytes out of memory (Go/s),
whereas DESIGN.md's budget (≥ 0.7×) was written against a sink reached over the network through
gunicorn (a few hundred Mo/s). Read the upload's own throughput, not only the ratio.
"""

import gc
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path


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
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
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
CHUNK = 64 * 1024


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


def call_wsgi(application, environ):
    """Call a WSGI application as a server would: read its whole answer, close it, return the status."""
    statuses = []
    result = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        for _ in result:
            pass
    finally:
        if hasattr(result, "close"):
            result.close()
    return statuses[0]


def wsgi_sink(environ, start_response):
    """The floor of an upload: read the body to the end in 64 KiB chunks, answer 204."""
    stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
    start_response("204 No Content", [])
    return []


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

        # 20 Mo upload: one multipart body, the same environ for Django's handler and the raw sink.
        pdf = sample("valid.pdf")
        padded = pdf[:-6] + bytes(MAX_SIZE - len(pdf)) + pdf[-6:]  # « %%EOF » stays at the end
        body = encode_multipart(BOUNDARY, {"documents": SimpleUploadedFile("justificatif.pdf", padded)})
        upload_path = reverse(
            "evaluation:question_upload", args=[upload_value.self_evaluation.public_id, upload_value.indicator.code]
        )
        csrf_secret = get_random_string(32)
        cookies = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; "
        cookies += f"{settings.CSRF_COOKIE_NAME}={csrf_secret}"

        def environ():
            return {
                "REQUEST_METHOD": "POST",
                "SCRIPT_NAME": "",
                "PATH_INFO": upload_path,
                "QUERY_STRING": "",
                "SERVER_NAME": "testserver",
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_HOST": "testserver",
                "HTTP_COOKIE": cookies,
                "HTTP_X_CSRFTOKEN": csrf_secret,
                "CONTENT_TYPE": MULTIPART_CONTENT,
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),  # shares `body`, copies nothing
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": False,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
            }

        django_handler = WSGIHandler()
        last_pk = Document.objects.latest("pk").pk

        def upload(request_environ=None):
            status = call_wsgi(django_handler, request_environ or environ())
            if not status.startswith("302"):  # back to the question, with « … a été ajouté » or why not
                raise RuntimeError(f"the upload answered {status}")

        def remove_uploaded_files():
            """Every round stores a new 20 Mo file: remove it, so that the folder stays as it was."""
            nonlocal last_pk
            uploaded = list(Document.objects.filter(pk__gt=last_pk).order_by("pk"))
            if len(uploaded) != 1:  # a refused file is redirected too: make sure one was stored
                raise RuntimeError(f"the upload created {len(uploaded)} documents instead of one")
            documents_storage().delete(uploaded[0].file.name)
            last_pk = uploaded[0].pk

        def sink():
            call_wsgi(wsgi_sink, environ())

        floor_upload = median_ms(sink)
        ours_upload = median_ms(upload, after=remove_uploaded_files)
        request_environ = environ()  # built before tracemalloc starts, as a server would have it
        upload_memory = peak_growth_mb(lambda: upload(request_environ))
        remove_uploaded_files()

        zip_ratio = floor_zip / ours_zip
        upload_ratio = floor_upload / ours_upload  # throughputs: ours / floor
        floor_rate, our_rate = (len(body) / MB / (timing / 1000) for timing in (floor_upload, ours_upload))
        print(f"« Récupérer tous les documents » of {DOCUMENTS} documents of 1 MiB ({zip_size / MB:.1f} Mo ZIP)")
        print(f"  {floor_name + ' (floor)':<30}: {floor_zip:7.2f} ms")
        print(f"  Streamed ZIP, read to the end : {ours_zip:7.2f} ms")
        print(f"  → floor / ZIP speed           : {zip_ratio:7.2f} ×  {budget(zip_ratio, '≥', 1.0, '×')}")
        print(f"  Memory growth while reading   : {zip_memory:7.2f} Mo  {budget(zip_memory, '≤', 5, 'Mo')}")
        print(f"20 Mo upload: a {len(padded):,}-byte PDF, {len(body):,}-byte multipart body")
        print(f"  Raw WSGI sink (floor)         : {floor_upload:7.2f} ms   {floor_rate:7.1f} Mo/s")
        print(f"  Upload under a question       : {ours_upload:7.2f} ms   {our_rate:7.1f} Mo/s")
        print(f"  → upload / sink throughput    : {upload_ratio:7.2f} ×  {budget(upload_ratio, '≥', 0.7, '×')}")
        print(f"  Memory growth while uploading : {upload_memory:7.2f} Mo  {budget(upload_memory, '≤', 8, 'Mo')}")
    finally:
        runner.teardown_databases(old_config)
        shutil.rmtree(WORK_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
