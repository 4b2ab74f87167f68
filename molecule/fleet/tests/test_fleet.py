"""The fleet as users meet it: HTTPS on the web host's published 127.0.0.1 port,
spread over both app hosts, surviving the loss of one; the app port admits only
the web host. Tests that stop a host are marked disruptive: they run last.
The shared database: test_database.py."""

import json
import os
import re
import shlex
import socket
import time
import uuid
from urllib.parse import urlencode

import pytest

from fleetlib import (APP_PORT, DOMAIN, FAIL_TIMEOUT, LINK_NAME, PROJECT, SCENARIO, TLS_DIR, address, fleet_host,
                      guestbook, podman, sign_guestbook, through_app)
from testlib import assert_check_mode_clean, https_request, recap_changes, run_playbook

# Requests go through the web host; the other hosts are reached by name (fleetlib.fleet_host).
testinfra_hosts = ["ansible://fleet-web"]


def health(published, pebble_root, query: str = "") -> dict:
    """The health answer; a 200 (not Django's redirect to HTTPS) says the app host saw HTTPS."""
    response = https_request(published["https"], DOMAIN, f"/health/{query}", cafile=pebble_root)
    assert response.status == 200, response.body[:300]
    return json.loads(response.body)


def logged_requests(name: str, marker: str) -> int:
    """How many requests carrying marker the app host's gunicorn logged (0 when the host is down)."""
    try:
        result = fleet_host(name).run(f"journalctl -q -o cat -u exampleapp-gunicorn.service | grep -c -F {marker}")
    except Exception:  # noqa: BLE001  (a stopped container cannot be asked)
        return 0
    return int(result.stdout.strip() or 0)


def wait_until_both_answer(published, pebble_root, name: str) -> None:
    """After a disruptive test: NAME answers through the site again, and no nginx worker
    still skips it (its failed attempts are older than the fail timeout)."""
    deadline = time.monotonic() + 120
    while name not in answering_hosts(published, pebble_root, 8):
        assert time.monotonic() < deadline, f"{name} did not come back"
        time.sleep(2)
    time.sleep(FAIL_TIMEOUT + 1)


def answering_hosts(published, pebble_root, count: int = 24) -> list[str]:
    """Which app host answered each request, read from their access logs: the health
    answer itself names no host."""
    marker = f"probe={uuid.uuid4().hex}"
    for _ in range(count):
        health(published, pebble_root, f"?{marker}")
    deadline = time.monotonic() + 15
    while True:
        counts = {name: logged_requests(name, marker) for name in ("app1", "app2")}
        if sum(counts.values()) >= count or time.monotonic() > deadline:
            return [name for name, seen in counts.items() for _ in range(seen)]
        time.sleep(1)


def test_requests_are_spread_over_both_app_hosts(published, pebble_root):
    hosts = answering_hosts(published, pebble_root)
    assert len(hosts) == 24 and set(hosts) == {"app1", "app2"}, hosts


def test_every_app_host_sees_the_request_as_secure(published, pebble_root):
    answers = [health(published, pebble_root) for _ in range(8)]
    assert answers == [{"status": "ok"}] * 8


def test_a_failed_login_is_logged_with_the_client_address_not_the_web_hosts(host, published, pebble_root):
    """The lockout counts the address nginx saw, passed over the private link in X-Forwarded-For."""
    form = https_request(published["https"], DOMAIN, "/accounts/login/", cafile=pebble_root)
    cookie = re.search(r"__Host-csrftoken=([^;]+)", form.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode()).group(1)
    user = f"nobody{uuid.uuid4().hex[:8]}"
    answer = https_request(published["https"], DOMAIN, "/accounts/login/", "POST",
                           {"Origin": f"https://{DOMAIN}", "Content-Type": "application/x-www-form-urlencoded",
                            "Cookie": f"__Host-csrftoken={cookie}"},
                           urlencode({"username": user, "password": "guess", "csrfmiddlewaretoken": token}),
                           cafile=pebble_root)
    assert answer.status == 200  # the form again: a failure, not yet a lockout
    client = host.check_output("grep -F 'POST /accounts/login/' /var/log/nginx/access.log | tail -n 1").split()[0]
    logs = "".join(fleet_host(name).run(f"grep -F '{user}' /var/log/exampleapp/security.log").stdout
                   for name in ("app1", "app2"))
    assert f'ip_address: "{client}"' in logs and client != address(host), logs


def test_the_app_hosts_serve_django_6_with_its_own_csp(published, pebble_root):
    """Debian 13's Django 6 sends the CSP from its own middleware (django-csp is not installed),
    the web host's nginx adds the other headers once."""
    response = https_request(published["https"], DOMAIN, "/", cafile=pebble_root)
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Frame-Options") == "DENY"
    for name in ("app1", "app2"):
        packages = fleet_host(name).check_output(
            "/srv/exampleapp/current/venv/bin/python -m pip list --format=freeze").lower()
        assert "django==6." in packages and "django-csp" not in packages, (name, packages)


def test_static_files_are_served_by_the_web_host(host, published, pebble_root):
    html = https_request(published["https"], DOMAIN, "/", cafile=pebble_root).body.decode()
    href = html.split('href="/static/', 1)[1].split('"', 1)[0]
    response = https_request(published["https"], DOMAIN, f"/static/{href}", cafile=pebble_root)
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/css")
    assert host.file(f"/srv/exampleapp/static/{href}").exists


def test_gunicorn_listens_on_the_private_address_only(host):
    for name in ("app1", "app2"):
        app = fleet_host(name)
        assert app.socket(f"tcp://{address(app)}:{APP_PORT}").is_listening
        assert not app.socket(f"tcp://0.0.0.0:{APP_PORT}").is_listening
        assert not app.file("/run/exampleapp-gunicorn.sock").exists


def test_gunicorn_admits_nginx_only_over_mutual_tls(host, tmp_path):
    """Asked from the web host (the one address UFW admits) as nginx asks: TLS 1.3, the
    app hosts' shared name verified against the fleet's CA, nginx's client certificate.
    Plain HTTP, TLS 1.2, no client certificate, and a certificate from the same CA that is
    not a client's (app2's own, as a compromised app host would present it) are refused."""
    app1 = fleet_host("app1")
    status, body = through_app(host, app1, "/health/")
    assert status == "200" and json.loads(body) == {"status": "ok"}, (status, body[:300])
    # app2's server certificate and key, put on the web host as an impostor's.
    for name in ("crt", "key"):
        podman("cp", f"fleet-app2:{TLS_DIR}/gunicorn.{name}", str(tmp_path / f"impostor.{name}"))
        podman("cp", str(tmp_path / f"impostor.{name}"), f"fleet-web:/root/impostor.{name}")
    try:
        refused = {
            "plain HTTP": through_app(host, app1, "/health/", scheme="plain"),
            "TLS 1.2": through_app(host, app1, "/health/", scheme="tls1.2"),
            "no client certificate": through_app(host, app1, "/health/", cert="", key=""),
            "a server's certificate": through_app(host, app1, "/health/", cert="/root/impostor.crt",
                                                  key="/root/impostor.key"),
        }
    finally:
        host.run("rm -f /root/impostor.crt /root/impostor.key")
    assert all(status.startswith("refused: ") for status, _ in refused.values()), refused


def test_the_app_port_admits_the_web_host_only(host):
    app1, app2 = fleet_host("app1"), fleet_host("app2")
    probe = f"python3 -c \"import socket; socket.create_connection(('{address(app1)}', {APP_PORT}), timeout=3)\""
    assert host.run(probe).rc == 0, "the web host must reach gunicorn on app1"
    assert app2.run(probe).rc != 0, "another app host must not"
    with pytest.raises(OSError):
        socket.create_connection((address(app1), APP_PORT), timeout=3).close()  # nor the controller
    # The one rule that lets it in names the web host, and only it.
    rules = app1.check_output("ufw status")
    assert re.search(rf"^{APP_PORT}/tcp +ALLOW( IN)? +{re.escape(address(host))} +# managed:ufw-role app$",
                     rules, re.M), rules
    assert rules.count(f"{APP_PORT}/tcp") == 1, rules


def test_the_app_hosts_share_one_secret_key():
    keys = {fleet_host(name).check_output("grep ^DJANGO_SECRET_KEY= /etc/exampleapp/env") for name in ("app1", "app2")}
    assert len(keys) == 1


def test_check_mode_is_clean_on_the_converged_fleet():
    assert_check_mode_clean(os.path.join(SCENARIO, "converge.yml"), hosts=4)


def test_the_audit_passes_on_every_host_of_the_fleet(pebble_root, tmp_path):
    """playbooks/audit.yml on the split topology (gunicorn on TCP behind one UFW rule,
    nginx without the app, PostgreSQL on its own host): every control of all four hosts
    passes, nothing changes."""
    result = run_playbook(os.path.join(PROJECT, "playbooks", "audit.yml"),
                          "-e", f"nginx_audit_ca_bundle={pebble_root}", "-e", f"audit_report_dir={tmp_path}")
    assert result.returncode == 0, result.stdout[-5000:]
    assert set(recap_changes(result.stdout).values()) == {0}
    report = json.loads((tmp_path / "audit.json").read_text())
    hosts = {host["host"]: {c["id"]: c["status"] for c in host["controls"]} for host in report["hosts"]}
    assert set(hosts) == {"fleet-web", "fleet-app1", "fleet-app2", "fleet-db"}
    assert {cid.split(".")[0] for cid in hosts["fleet-web"]} >= {"tls", "http", "nginx", "certbot", "ssh"}
    assert not any(cid.startswith("tls.") for cid in hosts["fleet-app1"])
    assert not any(cid.startswith("app.") for cid in hosts["fleet-web"])
    assert hosts["fleet-app1"]["app.check_deploy"] == "pass" and hosts["fleet-app2"]["firewall.rules"] == "pass"
    assert not [(host, cid) for host, controls in hosts.items() for cid, status in controls.items()
                if status == "fail"]


@pytest.mark.disruptive
def test_requests_succeed_with_one_app_host_down(published, pebble_root, visitor):
    """Every request lands on the app host left, and it serves what the site took before."""
    text = f"entry before app2 stopped {uuid.uuid4().hex[:10]}"
    sign_guestbook(published["https"], pebble_root, visitor, text)
    podman("stop", "--time", "10", "fleet-app2")
    try:
        start = time.monotonic()
        hosts = answering_hosts(published, pebble_root)
        assert set(hosts) == {"app1"}, hosts
        print(f"24 requests with app2 down: {time.monotonic() - start:.2f} s")
        assert text in guestbook(published["https"], pebble_root, visitor)
    finally:
        podman("start", "fleet-app2")
        wait_until_both_answer(published, pebble_root, "app2")


# An impostor on app1's address and port: TLS with a self-signed certificate
# for the name nginx checks; it records every request that reaches it.
_IMPOSTOR = """import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open("/root/impostor.log", "a") as log:
            log.write(self.requestline + "\\n")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')
server = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/root/impostor.crt", "/root/impostor.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()"""


@pytest.mark.disruptive
def test_nginx_sends_nothing_to_an_impostor_app_server(host, published, pebble_root):
    """With app1's gunicorn stopped, a server on its address and port presents a
    self-signed certificate for the very name nginx checks: nginx refuses it (its
    certificate is not the fleet's CA's), every request is answered by app2, and the
    impostor never sees one."""
    app1 = fleet_host("app1")
    units = "exampleapp-gunicorn.socket exampleapp-gunicorn.service"
    app1.check_output(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=impostor "
        f"-addext subjectAltName=DNS:{LINK_NAME} -keyout /root/impostor.key -out /root/impostor.crt 2>&1")
    errors_before = host.check_output("grep -c 'upstream SSL certificate verify error' "
                                      "/var/log/nginx/error.log || true")
    app1.check_output(f"systemctl stop {units} && rm -f /root/impostor.log")
    try:
        app1.check_output(f"systemd-run --unit impostor python3 -c {shlex.quote(_IMPOSTOR)} "
                          f"{address(app1)} {APP_PORT}")
        assert app1.run(f"for i in $(seq 50); do ss -Htln | grep -q ':{APP_PORT} ' && exit 0; sleep 0.2; "
                        "done; exit 1").rc == 0
        hosts = answering_hosts(published, pebble_root)
        assert set(hosts) == {"app2"} and len(hosts) == 24, hosts
        assert not app1.file("/root/impostor.log").exists, app1.file("/root/impostor.log").content_string
        errors_after = host.check_output("grep -c 'upstream SSL certificate verify error' "
                                         "/var/log/nginx/error.log || true")
        assert int(errors_after) > int(errors_before or 0), "nginx logged no refused certificate"
    finally:
        app1.run("systemctl stop impostor; rm -f /root/impostor.key /root/impostor.crt /root/impostor.log")
        app1.check_output(f"systemctl start {units}")
        wait_until_both_answer(published, pebble_root, "app1")
