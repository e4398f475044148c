"""Benchmark: importing a national FINESS extract (`manage.py import_finess`).

Run: `DATABASE_URL=… .venv/bin/python bench/import_finess.py` (a test database is created and dropped). The file is
synthetic but laid out as published (DOMAIN.md §8): BENCH_FINESS_LINES `structureet` lines (100,000), three ET per
EJ on average, spread over the 101 departments, ISO-8859-1, plus as many geolocation lines. Times, as the
command runs them: the dry run (read, check, plan), the first wet run (everything created), a second wet run
(nothing to change), and a wet run after 1 % of the ET changed name. Figures to read, not a test.
"""

import io
import os
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402


django.setup()

from django.core.management import call_command  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402


LINES = int(os.environ.get("BENCH_FINESS_LINES", 100_000))


def extract(renamed: int = 0) -> bytes:
    from contracts.regions import REGION_OF_DEPARTMENT
    from tests.contracts.finess_extract import encode, finess, geolocalisation, structureet

    departments = [code for code in REGION_OF_DEPARTMENT if len(code) == 2 and code.isdigit()]
    lines = ["finess;etalab;100;2026-11-01"]
    ets = []
    for number in range(LINES):
        department = departments[(number // 3) % len(departments)]  # three ET of one EJ in one department
        et = finess(f"{department}{number:06d}")
        ej = finess(f"{department}9{number // 3:05d}")
        name = f"CENTRE HOSPITALIER SAINT-ÉTIENNE {number}" + (" (RENOMMÉ)" if number < renamed else "")
        lines.append(
            structureet(et, ej, name, departement=department, acheminement=f"{department}000 VILLE {number % 97}")
        )
        ets.append(et)
    lines.extend(geolocalisation(et) for et in ets)
    return encode(lines)


def timed(path: Path, *args) -> float:
    start = time.perf_counter()
    call_command("import_finess", str(path), *args, stdout=io.StringIO(), stderr=io.StringIO())
    return time.perf_counter() - start


def main():
    runner = DiscoverRunner(verbosity=0, interactive=False)
    old_config = runner.setup_databases()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "etalab-cs1100507-stock.csv"
            path.write_bytes(extract())
            size = path.stat().st_size / 1e6
            print(f"Extract: {LINES} structureet lines + {LINES} geolocation lines, {size:.0f} Mo (ISO-8859-1)")
            print(f"Dry run (read, check, plan)          : {timed(path):6.1f} s")
            print(f"First wet run (everything created)   : {timed(path, '--wet-run'):6.1f} s")
            print(f"Second wet run (nothing to change)   : {timed(path, '--wet-run'):6.1f} s")
            path.write_bytes(extract(renamed=LINES // 100))
            print(f"Wet run, 1 % of the ET renamed       : {timed(path, '--wet-run'):6.1f} s")
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
