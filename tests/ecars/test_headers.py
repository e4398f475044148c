"""Response headers (SECURITY.md B3, H2): Permissions-Policy everywhere, Clear-Site-Data on logout,
no Server banner from gunicorn."""

import http.client
import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from tests.conftest import free_port


DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb", "display-capture", "serial", "hid")


def assert_permissions_policy(response):
    policy = {item.strip() for item in response["Permissions-Policy"].split(",")}
    for feature in DENIED_FEATURES:
        assert f"{feature}=()" in policy, feature
    # Everything is denied: no feature is allowed to any origin.
    assert all(item.endswith("=()") for item in policy)


@pytest.mark.parametrize(
    "persona,url",
    [
        ("anonymous", "/accounts/login/"),
        ("anonymous", "/"),  # a redirect to the login
        ("anonymous", "/sante/"),
        ("anonymous", "/static/js/session.js"),
        ("anonymous", "/?q=%00"),  # the 400 page
        ("member", "/"),
        ("member", "/cette-page-n-existe-pas/"),
        ("ars_staff", "/admin/"),
    ],
)
def test_every_answer_carries_the_permissions_policy(client_for, member, ars_staff, persona, url):
    user = {"anonymous": None, "member": member, "ars_staff": ars_staff}[persona]
    response = client_for(user).get(url)
    assert_permissions_policy(response)


@pytest.mark.e2e
def test_the_browser_recognises_every_feature_of_the_policy(live_server):
    """An unknown feature name is a console warning on every page: Chromium must know them all."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("ECARS_CHROMIUM", "/usr/bin/chromium")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    messages = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=flags, headless=True)
        try:
            page = browser.new_page()
            page.on("console", lambda message: messages.append(message.text))
            page.goto(live_server.url + reverse("account_login"))
            page.wait_for_load_state("load")
        finally:
            browser.close()
    assert [m for m in messages if "Permissions-Policy" in m] == []


def test_error_pages_carry_the_content_security_policy(client):
    for response in (client.get("/?q=%00"), client.get("/", headers={"host": "evil.example"})):
        assert response.status_code == 400
        assert "default-src 'self'" in response["Content-Security-Policy"]


def test_logging_out_clears_what_the_browser_kept(client_for, member):
    client = client_for(member)
    assert "Clear-Site-Data" not in client.get(reverse("account_logout"))
    assert "Clear-Site-Data" not in client.post(reverse("accounts:refresh_session"))

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert client.get(reverse("contracts:home")).status_code == 302  # signed out


# gunicorn


@pytest.fixture
def gunicorn_server():
    """gunicorn with the project's gunicorn.conf.py on a free loopback port."""
    port = free_port()
    database = connection.settings_dict
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "ecars.settings_test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "ecars.wsgi"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    reason = process.stderr.read().decode() if process.poll() is not None else "timeout"
                    raise AssertionError(reason) from error
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


@pytest.mark.slow_subprocess
def test_gunicorn_sends_no_server_banner(gunicorn_server):
    for path in ("/accounts/login/", "/cette-page-n-existe-pas/", "/static/js/session.js"):
        response = get(gunicorn_server, path)
        assert response.status in (200, 404), (path, response.status)
        assert response.getheader("Server") is None, path
        assert response.getheader("Date") is not None
        assert "camera=()" in response.getheader("Permissions-Policy")
