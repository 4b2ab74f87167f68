"""The example app deployed by django_app behind the nginx role, seen from the host over 127.0.0.1."""

import json
import re
import shlex
import uuid
from urllib.parse import urlencode

import pytest

from helpers import APP, BASE, DOMAIN, MANAGE, SERVICE, health, request
from testlib import response_cookies as cookies


def test_health_over_https_says_ok_and_nothing_more(host, published):
    assert health(published["https"]) == {"status": "ok"}  # no versions or host names for strangers
    major = 5 if host.backend.get_hostname().endswith("bookworm") else 6
    version = host.check_output(f"{MANAGE} shell -c 'import django; print(django.get_version())'")
    assert version.splitlines()[-1].startswith(f"{major}."), version  # shell may print a notice first


def test_plain_http_is_redirected_to_https(published):
    response = request(published["http"], "/health/", tls=False)
    assert response.status == 301 and response.getheader("Location") == f"https://{DOMAIN}/health/"


def test_exactly_one_hsts_header_with_the_configured_max_age(published):
    for path in ("/health/", "/"):
        response = request(published["https"], path)
        assert response.headers.get_all("Strict-Transport-Security") == ["max-age=3600; includeSubDomains"], path


def test_security_headers_and_csp(host, published):
    response = request(published["https"], "/")
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    packages = host.check_output(f"{BASE}/current/venv/bin/python -m pip list --format=freeze").lower()
    if host.backend.get_hostname().endswith("trixie"):  # Django 6's own CSP middleware, no django-csp
        assert "django-csp" not in packages
    else:
        assert "django-csp==4.0" in packages


def test_static_files_are_served_by_nginx(host, published):
    page = request(published["https"], "/").body.decode()
    href = re.search(r'href="(/static/exampleapp/style\.[0-9a-f]+\.css)"', page).group(1)
    response = request(published["https"], href)
    assert response.status == 200 and b"font-family" in response.body
    assert response.getheader("Content-Type").startswith("text/css")
    # nginx reads uploads too: new media directories keep the web group
    assert host.run(f"runuser -u {APP} -- sh -c 'umask 027; mkdir -p {BASE}/media/t/u && echo x > {BASE}/media/t/u/f'"
                    ).rc == 0
    assert host.run(f"runuser -u www-data -- cat {BASE}/media/t/u/f").rc == 0


def test_login_form_and_csrf_over_https(host, published):
    """CSRF and session cookies are Secure (session also HttpOnly); a POST without the token is refused."""
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    host.check_output(f"{MANAGE} shell -c \"from django.contrib.auth.models import User; "
                      f"User.objects.create_user('{user}', password='{password}')\"")
    port = published["https"]
    form = request(port, "/accounts/login/")
    csrf = cookies(form)["__Host-csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax" and csrf["path"] == "/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode()).group(1)
    origin = {"Origin": f"https://{DOMAIN}", "Content-Type": "application/x-www-form-urlencoded"}

    refused = request(port, "/accounts/login/", "POST", {**origin, "Cookie": f"__Host-csrftoken={csrf.value}"},
                      urlencode({"username": user, "password": password}))
    assert refused.status == 403

    login = request(port, "/accounts/login/", "POST", {**origin, "Cookie": f"__Host-csrftoken={csrf.value}"},
                    urlencode({"username": user, "password": password, "csrfmiddlewaretoken": token}))
    assert login.status == 302, login.body[:500]
    jar = cookies(login)
    session = jar["__Host-sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    new_csrf = jar.get("__Host-csrftoken", csrf)

    browser = {**origin, "Cookie": f"__Host-sessionid={session.value}; __Host-csrftoken={new_csrf.value}"}
    page = request(port, "/guestbook/", headers=browser)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()).group(1)
    text = f"hello {uuid.uuid4().hex[:8]}"
    signed = request(port, "/guestbook/", "POST", browser, urlencode({"text": text, "csrfmiddlewaretoken": token}))
    assert signed.status == 302 and text in request(port, "/guestbook/", headers=browser).body.decode()


def test_admin_is_at_the_configured_url(published):
    response = request(published["https"], "/admin/")
    assert response.status == 302 and "/admin/login/" in response.getheader("Location")


def unix_request(host, headers: str) -> dict:
    """A request straight to gunicorn's socket inside the host (as nginx makes it, or not)."""
    script = (
        "import http.client, json, socket\n"
        "class C(http.client.HTTPConnection):\n"
        "    def connect(self):\n"
        "        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect('/run/exampleapp-gunicorn.sock')\n"
        f"c = C('localhost'); c.request('GET', '/health/', headers={headers})\n"
        "r = c.getresponse(); print(json.dumps({'status': r.status, 'location': r.getheader('Location'), "
        "'body': r.read().decode()}))\n")
    return json.loads(host.check_output(f"runuser -u www-data -- python3 -c {shlex.quote(script)}"))


def test_the_socket_serves_the_web_group_and_trusts_only_the_proxy_header(host):
    sock = host.file(f"/run/{APP}-gunicorn.sock")
    assert sock.is_socket and sock.group == "www-data" and sock.mode == 0o660
    plain = unix_request(host, "{'Host': 'app.test'}")
    assert plain["status"] == 301 and plain["location"] == "https://app.test/health/"
    proxied = unix_request(host, "{'Host': 'app.test', 'X-Forwarded-Proto': 'https'}")
    assert proxied["status"] == 200  # not redirected: Django saw it as HTTPS
    # gunicorn believes X-Forwarded-Proto alone: other scheme headers change nothing.
    contradicted = unix_request(host, "{'Host': 'app.test', 'X-Forwarded-Proto': 'https', "
                                      "'X-Forwarded-Ssl': 'off', 'X-Forwarded-Protocol': 'http'}")
    assert contradicted["status"] == 200
    claimed = unix_request(host, "{'Host': 'app.test', 'X-Forwarded-Ssl': 'on'}")
    assert claimed["status"] == 301


def test_a_disallowed_host_is_logged_to_the_security_log(host):
    marker = f"evil-{uuid.uuid4().hex[:8]}.test"
    assert unix_request(host, f"{{'Host': '{marker}', 'X-Forwarded-Proto': 'https'}}")["status"] == 400
    log = host.file(f"/var/log/{APP}/security.log")
    assert marker in log.content_string and "DisallowedHost" in log.content_string
    assert host.run(f"logrotate -d /etc/logrotate.d/{APP}").rc == 0


def test_gunicorn_runs_as_the_app_user(host):
    processes = host.process.filter(comm="python") + host.process.filter(comm="python3")
    gunicorns = [p for p in processes if "gunicorn" in p.args]
    assert len(gunicorns) >= 3  # master + 2 workers
    assert {p.user for p in gunicorns} == {APP}
    user = host.user(APP)
    assert user.shell == "/usr/sbin/nologin" and "sudo" not in user.groups and user.password in ("!", "*", "!*")


def test_secrets_and_code_permissions(host):
    env = host.file(f"/etc/{APP}/env")
    assert (env.user, env.group, env.mode) == ("root", APP, 0o640)
    assert host.file(f"/etc/{APP}/secret_key").mode == 0o600
    key = host.file(f"/etc/{APP}/secret_key").content_string.strip()
    assert len(key) >= 50 and f"DJANGO_SECRET_KEY='{key}'" in env.content_string
    settings = host.file(f"{BASE}/current/production_settings.py").content_string
    assert key not in settings and "DEBUG = False" in settings
    # the app reads its code but cannot change it
    assert host.run(f"runuser -u {APP} -- test -r {BASE}/current/manage.py").rc == 0
    assert host.run(f"runuser -u {APP} -- test -w {BASE}/current/manage.py").rc != 0
    assert host.run(f"runuser -u {APP} -- touch {BASE}/current/x").rc != 0
    assert host.file(f"{BASE}/current/.django_app_ready").exists


def test_the_deploy_gate_passes_on_the_live_release(host):
    result = host.run(f"{MANAGE} check --deploy --fail-level WARNING")
    assert result.rc == 0 and "no issues" in result.stdout, result.stdout + result.stderr


def test_systemd_sandbox_exposure(host):
    output = host.check_output(f"systemd-analyze security --no-pager {SERVICE}")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", output).group(1))
    print(f"{host.backend.get_hostname()}: systemd-analyze security exposure {score}")
    assert score <= 2.0, output[-2000:]


@pytest.mark.parametrize("setting", ["Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict"])
def test_service_properties(host, setting):
    key = setting.split("=")[0]
    assert host.check_output(f"systemctl show -p {key} {SERVICE}") == setting
