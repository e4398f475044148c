"""The portal as production runs it, for the tests that start it in processes of its own: gunicorn (the project's
gunicorn.conf.py) or `manage.py db_worker` with the production settings (tests/ecars/production_settings.py), and a
browser that talks to them over HTTP behind a load balancer.

Used by tests/ecars/test_scale_out.py (two gunicorn sharing PostgreSQL, Redis and S3) and the fault drills
(tests/drills/). This module is no pytest plugin.
"""

import html
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from http.client import HTTPConnection, HTTPMessage
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from tests.s3 import _terminate_with_parent


HOST = "ecars.localhost"  # the public name, the same whichever process answers
ORIGIN = f"https://{HOST}"
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "ecars.wsgi"]
DB_WORKER = [sys.executable, "manage.py", "db_worker"]


# --- The processes ------------------------------------------------------------------------------------------------


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start `command` from the project's folder with exactly `env`, its output in `log`; it gets SIGTERM if the
    test process dies."""
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_terminate_with_parent,  # noqa: PLW1509
        )


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_serving(port: int, deadline: float, *, check_running) -> None:
    """Until the login page answers 200 on `port`; `check_running()` raises if a process has died."""
    while True:
        check_running()
        try:
            if Browser("192.0.2.1").get(port, reverse("account_login")).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"gunicorn ne répond pas sur le port {port}")
        time.sleep(0.1)


# --- A browser behind the load balancer ---------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return html.unescape(self.body.decode())


class Browser:
    """A browser's cookies, its requests sent to the gunicorn the test names, with the load balancer's headers."""

    def __init__(self, address: str, timeout: float = 60):
        self.address = address  # the client's address, as the load balancer appends it to X-Forwarded-For
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, port, method, path, body=b"", content_type=None) -> Response:
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": self.address,
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if method == "POST":
            headers["Origin"] = ORIGIN
            headers["Content-Type"] = content_type
        conn = HTTPConnection("127.0.0.1", port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            answer = conn.getresponse()
            response = Response(answer.status, answer.msg, answer.read())
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, port, path) -> Response:
        return self.request(port, "GET", path)

    def post(self, port, path, fields: dict, files: dict | None = None) -> Response:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, content, content_type) in (files or {}).items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n".encode()
                + content
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(port, "POST", path, body, f"multipart/form-data; boundary={boundary}")

    def submit(self, port, page: Response, action: str, fields: dict | None = None, files=None) -> Response:
        """Submit the page's form posting to `action`: its hidden fields (the CSRF token…) and `fields`."""
        return self.post(port, action, {**form_fields(page, action), **(fields or {})}, files)

    def upload(self, port, question: str, action: str, name: str, content: bytes, content_type: str) -> Response:
        """Add one file under a question, as its page's form does: the redirect back to the question (asserted)."""
        response = self.submit(
            port, self.get(port, question), action, files={"documents": (name, content, content_type)}
        )
        assert response.status == 302, response.text
        assert urlsplit(response.headers["Location"]).path == question
        return response

    def log_in(self, port, email, password) -> Response:
        login = reverse("account_login")
        return self.submit(port, self.get(port, login), login, {"login": email, "password": password})


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict] = {}
        self._current = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._current = self.forms.setdefault(attrs.get("action") or "", {})
        elif tag == "input" and self._current is not None and attrs.get("type") == "hidden":
            self._current[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def form_fields(page: Response, action: str) -> dict:
    """The hidden fields of the page's POST form whose action is `action`."""
    parser = _Forms()
    parser.feed(page.body.decode())
    assert action in parser.forms, f"aucun formulaire vers {action} (statut {page.status}) : {sorted(parser.forms)}"
    return parser.forms[action]
