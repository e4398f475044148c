"""What the drills that kill a process share: find and kill gunicorn's worker, hold a write at a known point (a
table lock the request waits on, seen in pg_stat_activity), send a request whose answer will never come, count rows
of the drill's database."""

import os
import signal
import socket
import time
import uuid
from pathlib import Path

from tests.portal import HOST, ORIGIN


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def kill_worker(portal) -> int:
    """SIGKILL the worker; wait until the master has another one serving. Returns the killed pid."""
    master = portal.processes["gunicorn"][0].pid
    worker = worker_pid(master)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: worker_pid(master) != worker, 30, "gunicorn did not start a new worker")
    return worker


class HeldLock:
    """A SHARE lock on `table`, from the test's own connection: writers to it wait, readers do not."""

    def __init__(self, private_postgres, table: str):
        import psycopg

        self.conn = psycopg.connect(private_postgres.dsn("drill"))
        self.conn.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        # pg_stat_activity is read once per transaction: it is watched from another connection, in autocommit.
        self.watcher = psycopg.connect(private_postgres.dsn("drill"), autocommit=True)
        self.table = table

    def waiting_writer(self) -> bool:
        """Whether a request's transaction waits on the lock to write into the table."""
        with self.watcher.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                [f'%"{self.table}"%'],
            )
            return cursor.fetchone()[0] > 0

    def release(self):
        self.conn.rollback()
        self.conn.close()
        self.watcher.close()


def post_in_background(browser, port, path, fields):
    """POST without waiting for the answer (the worker will die): the socket, to be closed by the caller."""
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    return send_raw(browser, port, path, body, boundary, len(body))


def send_raw(browser, port, path, first_part: bytes, boundary: str, length: int):
    cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: {browser.address}\r\n"
        f"Origin: {ORIGIN}\r\nCookie: {cookies}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head + first_part)
    return sock


def answer_of_killed(sock) -> bytes:
    """What a client whose request's worker was killed receives: nothing."""
    try:
        return sock.recv(65536)
    except OSError:
        return b""
    finally:
        sock.close()


def count_rows(private_postgres, sql, params=()) -> int:
    [(count,)] = private_postgres.query("drill", sql, params)
    return count


def post_killed_while_writing(portal, private_postgres, table: str, path: str, fields: dict) -> None:
    """POST `fields` to `path` and SIGKILL the worker while the request's transaction waits to write into `table`
    (its earlier writes done, none committed); the client gets no answer."""
    lock = HeldLock(private_postgres, table)
    try:
        sock = post_in_background(portal.browser, portal.port, path, fields)
        wait_for(lock.waiting_writer, 30, f"the request never reached {table}")
        kill_worker(portal)
    finally:
        lock.release()
    assert answer_of_killed(sock) == b""
