"""nginx in its systemd sandbox, and certificate trouble reported before browsers see it.

Seen as an attacker inside nginx would be (nsenter into the master's mount
namespace) and as an operator would be told (the journal at priority crit,
and the webhook: the echo backend's second instance logs each POST).
"""

import json
import re
import time

from testlib import https_request

DOMAIN = "site.test"
ECHO_LOG = "/var/log/echo-backend.log"
RENEWAL = f"/etc/letsencrypt/renewal/{DOMAIN}.conf"


def webhook_alerts(host, event: str) -> list[dict]:
    """The JSON bodies the webhook received for EVENT."""
    bodies = []
    for line in host.file(ECHO_LOG).content_string.splitlines():
        if line.startswith("/certbot-alert "):
            body = json.loads(line.split(" ", 1)[1])
            if body["event"] == event:
                bodies.append(body)
    return bodies


def test_nginx_sandbox_rates_below_four(host):
    result = host.run("systemd-analyze security --no-pager nginx.service")
    level = re.search(r"Overall exposure level for nginx.service: ([0-9.]+)", result.stdout)
    assert level, result.stdout[-500:] + result.stderr
    assert float(level.group(1)) <= 4.0, result.stdout[-2000:]


def test_nginx_cannot_write_the_system_or_gain_capabilities(host):
    master = host.file("/run/nginx.pid").content_string.strip()
    # What code running in nginx's master would meet: a read-only /etc and /usr.
    for path in ("/etc/nginx/planted.conf", "/usr/local/bin/planted"):
        attempt = host.run(f"nsenter -t {master} -m sh -c 'echo x > {path}'")
        assert attempt.rc != 0 and "Read-only file system" in attempt.stderr, (path, attempt.stderr)
        assert not host.file(path).exists
    status = host.file(f"/proc/{master}/status").content_string
    # Five capabilities at most: bind, setuid, setgid, chown, dac_override.
    bounding = int(re.search(r"^CapBnd:\s+([0-9a-f]+)$", status, re.M).group(1), 16)
    assert bin(bounding).count("1") <= 5, hex(bounding)
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status


def test_rotated_logs_are_reopened_in_the_sandbox(host, published, pebble_root):
    rotated = host.run("logrotate --force /etc/logrotate.d/nginx")
    assert rotated.rc == 0, rotated.stderr
    marker = f"/rotation-{time.time_ns()}"
    https_request(published["https"], DOMAIN, marker, cafile=pebble_root).read()
    for _ in range(20):
        if marker in host.file("/var/log/nginx/access.log").content_string:
            break
        time.sleep(0.5)
    assert marker in host.file("/var/log/nginx/access.log").content_string


def test_a_certificate_close_to_expiry_is_reported(host):
    lineage = "/etc/letsencrypt/live/expiring.test"
    host.run_expect([0], f"mkdir -p {lineage} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                         f"-nodes -keyout /dev/null -out {lineage}/cert.pem -days 3 -subj /CN=expiring.test")
    try:
        check = host.run("systemctl start certbot-expiry.service")
        assert check.rc != 0, "the expiry check passed with a certificate 3 days from expiry"
        journal = host.check_output("journalctl -u certbot-expiry.service -p crit -o cat --no-pager")
        assert re.search(r"expiring\.test expires in [23] days", journal), journal
        assert any("expiring.test" in body["message"] for body in webhook_alerts(host, "expiry"))
    finally:
        host.run(f"rm -rf {lineage}; systemctl reset-failed certbot-expiry.service")
    assert host.run("systemctl start certbot-expiry.service").rc == 0
    assert host.service("certbot-expiry.timer").is_enabled
    assert host.service("certbot-expiry.timer").is_running


def test_a_failed_renewal_is_reported(host):
    # Due, and aimed at a port where no ACME server listens: certbot.service fails.
    host.run_expect([0], f"cp -p {RENEWAL} /root/renewal.conf.saved && sed -i "
                         "-e 's|^server = .*|server = https://127.0.0.1:14999/dir|' "
                         f"-e 's/^# renew_before_expiry.*/renew_before_expiry = 365 days/' {RENEWAL}")
    try:
        assert host.run("systemctl start certbot.service").rc != 0
        for _ in range(30):
            journal = host.run("journalctl -u certbot-alert@certbot.service.service -p crit -o cat --no-pager")
            if "certbot.service failed" in journal.stdout:
                break
            time.sleep(1)
        assert "certbot.service failed: the certificate was not renewed" in journal.stdout, journal.stdout
        assert any("certbot.service failed" in body["message"] for body in webhook_alerts(host, "failed"))
    finally:
        host.run(f"mv /root/renewal.conf.saved {RENEWAL}; systemctl reset-failed certbot.service")
