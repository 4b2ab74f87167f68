"""The fleet as users meet it: HTTPS on the web host's published 127.0.0.1 port,
spread over both app hosts, surviving the loss of one; the app port admits only
the web host. Tests that stop a host are marked disruptive: they run last.
The shared database: test_database.py."""

import json
import os
import re
import socket
import time
import uuid
from urllib.parse import urlencode

import pytest

from fleetlib import APP_PORT, DOMAIN, PROJECT, SCENARIO, address, fleet_host, guestbook, podman, sign_guestbook
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
    deadline = time.monotonic() + 120
    while "app2" not in answering_hosts(published, pebble_root, 8):
        assert time.monotonic() < deadline, "app2 did not come back after its container restarted"
        time.sleep(2)
