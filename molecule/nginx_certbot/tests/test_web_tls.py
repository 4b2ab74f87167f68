"""Roles nginx and certbot, seen from the host over 127.0.0.1 as a user would.

Each container runs Pebble (the ACME CA), nginx with a certificate Pebble
issued through a real HTTP-01 validation, and an echo backend standing in for
gunicorn that reports the headers it received and logs every request path.
Tests that change the converged state are marked disruptive: they run last.
"""

import http.client
import json
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest

from testlib import (assert_check_mode_clean, assert_fails_before_any_change, assert_mozilla_intermediate,
                     fetch_pebble_root, http_request, https_request, run_playbook, tls_context)

DOMAIN = "site.test"
TLS_DIR = f"/etc/nginx/tls/{DOMAIN}"
CONVERGE = "molecule/nginx_certbot/converge.yml"
ECHO_LOG = "/var/log/echo-backend.log"


def https(port: int, path: str = "/", headers: dict | None = None, cafile: str | None = None,
          sni: str = DOMAIN, method: str = "GET") -> http.client.HTTPResponse:
    """One HTTPS request to 127.0.0.1:port with the given SNI; Host defaults to it."""
    return https_request(port, sni, path, method, headers, cafile=cafile)


def http_plain(port: int, path: str = "/", headers: dict | None = None) -> http.client.HTTPResponse:
    return http_request(port, DOMAIN, path, headers=headers)


def served_certificate(port: int, cafile: str | None = None) -> dict:
    """Serial and names of the certificate nginx serves for DOMAIN."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
        with tls_context(cafile).wrap_socket(raw, server_hostname=DOMAIN) as tls:
            der = tls.getpeercert(binary_form=True)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial", "-ext", "subjectAltName",
                           "-issuer"], input=der, capture_output=True, check=True).stdout.decode()
    return {"serial": re.search(r"serial=(\w+)", text).group(1),
            "names": sorted(re.findall(r"DNS:([^,\s]+)", text)), "issuer": re.search(r"issuer=(.*)", text).group(1)}


def backend_saw(host, marker: str) -> bool:
    return marker in host.file(ECHO_LOG).content_string


def test_certificate_from_pebble_verifies_and_names_the_site(host, published, pebble_root):
    cert = served_certificate(published["https"], cafile=pebble_root)  # chain + hostname verified
    assert cert["names"] == [DOMAIN]
    assert "Pebble Intermediate CA" in cert["issuer"]
    # The placeholder is gone: the links point at certbot's live certificate.
    assert host.check_output(f"readlink {TLS_DIR}/fullchain.pem") == f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem"


def test_http_redirects_to_https_keeping_path_and_query(published):
    response = http_plain(published["http"], "/some/path?a=1&b=two")
    assert response.status == 301
    assert response.getheader("Location") == f"https://{DOMAIN}/some/path?a=1&b=two"


def test_acme_challenge_is_served_over_http(host, published):
    token = uuid.uuid4().hex
    host.run_expect([0], f"mkdir -p /var/www/acme/.well-known/acme-challenge && "
                         f"echo {token} > /var/www/acme/.well-known/acme-challenge/{token}")
    response = http_plain(published["http"], f"/.well-known/acme-challenge/{token}")
    assert response.status == 200 and response.body.decode().strip() == token
    assert http_plain(published["http"], "/.well-known/acme-challenge/missing").status == 404


def test_app_sees_nginx_view_not_forged_headers(host, published, pebble_root):
    marker = uuid.uuid4().hex
    response = https(published["https"], f"/{marker}", cafile=pebble_root, headers={
        "X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Host": "evil.example", "X-Real-IP": "203.0.113.9", "Forwarded": "proto=http",
        "X-Forwarded-Ssl": "off", "X-Forwarded-Protocol": "http"})
    assert response.status == 200
    seen = json.loads(response.body)["headers"]
    assert seen["X-Forwarded-Proto"] == "https"
    assert "X-Forwarded-Ssl" not in seen and "X-Forwarded-Protocol" not in seen
    assert seen["X-Forwarded-Host"] == DOMAIN and seen["Host"] == DOMAIN
    assert "203.0.113.9" not in seen["X-Forwarded-For"] and "," not in seen["X-Forwarded-For"]
    assert seen["X-Real-IP"] == seen["X-Forwarded-For"]
    assert "Forwarded" not in seen
    assert backend_saw(host, marker)


def test_forged_https_over_plain_http_never_reaches_app(host, published):
    marker = uuid.uuid4().hex
    response = http_plain(published["http"], f"/{marker}", headers={"X-Forwarded-Proto": "https"})
    assert response.status == 301
    assert not backend_saw(host, marker)


def test_unknown_names_never_reach_app(host, published):
    marker = uuid.uuid4().hex
    # Known SNI, unknown Host header: 421 from the default server.
    response = https(published["https"], f"/{marker}", headers={"Host": "other.example"})
    assert response.status == 421
    # Unknown SNI: the TLS handshake itself is refused, no certificate shown.
    with pytest.raises(ssl.SSLError):
        https(published["https"], f"/{marker}", sni="other.example")
    # Plain HTTP with an unknown Host: connection closed without an answer.
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        http_plain(published["http"], f"/{marker}", headers={"Host": "other.example"})
    assert not backend_saw(host, marker)


def hsts_headers(response) -> list[str]:
    return [value for name, value in response.getheaders() if name.lower() == "strict-transport-security"]


def test_exactly_one_hsts_header_on_proxied_answers(published, pebble_root):
    # The echo backend sends its own "max-age=1": nginx must replace it.
    response = https(published["https"], "/", cafile=pebble_root)
    assert hsts_headers(response) == ["max-age=3600; includeSubDomains"]


def test_static_files_served_by_nginx_with_security_and_cache_headers(host, published, pebble_root):
    host.run_expect([0], "echo 'body{}' > /srv/site/static/site.css")
    response = https(published["https"], "/static/site.css", cafile=pebble_root)
    assert response.status == 200 and response.body == b"body{}\n"
    assert response.getheader("Content-Type") == "text/css"
    assert hsts_headers(response) == ["max-age=3600; includeSubDomains"]
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Referrer-Policy") == "same-origin"
    assert response.getheader("Cache-Control") == "public, max-age=2592000"
    assert response.getheader("Server") == "nginx"  # server_tokens off: no version


def test_media_files_are_sandboxed(host, published, pebble_root):
    host.run_expect([0], "echo '<script>alert(1)</script>' > /srv/site/media/upload.html")
    response = https(published["https"], "/media/upload.html", cafile=pebble_root)
    assert response.status == 200
    assert response.getheader("Content-Security-Policy") == "default-src 'none'; sandbox"
    assert hsts_headers(response) == ["max-age=3600; includeSubDomains"]


def test_app_down_gives_nginx_error_page_with_headers(host, published, pebble_root):
    host.run_expect([0], "systemctl stop echo-backend.service")
    try:
        response = https(published["https"], "/", cafile=pebble_root)
    finally:
        host.run_expect([0], "systemctl start echo-backend.service")
    assert response.status == 502
    assert b"Temporarily unavailable" in response.body
    assert hsts_headers(response) == ["max-age=3600; includeSubDomains"]
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_http2_is_negotiated(published):
    context = tls_context(None)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", published["https"]), timeout=15) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as tls:
            assert tls.selected_alpn_protocol() == "h2"


def test_old_tls_versions_are_refused(published):
    context = tls_context(None)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", published["https"]), timeout=15) as raw:
            context.wrap_socket(raw, server_hostname=DOMAIN)


def test_sslyze_reports_mozilla_intermediate_compliance(published, pebble_root):
    assert_mozilla_intermediate(published["https"], DOMAIN, pebble_root)


def test_renewal_timer_is_active(host):
    assert host.service("certbot.timer").is_enabled
    assert host.service("certbot.timer").is_running


def test_check_mode_is_clean():
    assert_check_mode_clean(CONVERGE, hosts=2)


STATE = (f"sha256sum /etc/nginx/nginx.conf /etc/nginx/sites-enabled/*.conf /etc/nginx/snippets/*.conf; "
         f"readlink -f {TLS_DIR}/fullchain.pem; ls /etc/letsencrypt/archive/{DOMAIN}")


@pytest.mark.parametrize(("extra", "needle"), [
    ({"site_domains": []}, "nginx_server_names must not be empty"),
    ({"site_domains": ["bad_name!.test"]}, "bad_name!.test"),
    ({"certbot_email": ""}, "certbot_email must be an e-mail address"),
    ({"certbot_acme_directory_url": "http://acme.example/dir"}, "certbot_acme_directory_url must be an https://"),
    ({"nginx_tls_profile": "ultra"}, "nginx_tls_profile"),
    ({"nginx_hsts_max_age": "two years"}, "nginx_hsts_max_age"),
    ({"certbot_alert_webhook_url": "http://hooks.example/T0/secret-token"}, "certbot_alert_webhook_url must be an"),
    # Nothing is sent to the address: the run fails before any change.
    ({"nginx_upstream_servers": ["8.8.8.8:8000"]}, "is a public address: the plain HTTP between nginx and gunicorn"),
], ids=["no-domain", "invalid-domain", "email-missing", "plain-http-acme", "unknown-tls-profile", "hsts-not-int",
        "webhook-in-clear", "public-upstream"])
def test_bad_input_fails_before_any_change(host, extra, needle):
    if "trixie" in host.backend.get_hostname():
        pytest.skip("input validation does not depend on the platform: checked on Debian 12 only")
    assert_fails_before_any_change(host, CONVERGE, extra, needle, STATE)


def test_a_config_nginx_rejects_never_replaces_the_live_one(host, published, pebble_root):
    # Passes the role's checks but not nginx -t (a quote breaks the directive).
    assert_fails_before_any_change(host, CONVERGE, {"nginx_static_cache_control": 'public"; x'},
                                   "failed to validate", STATE)
    assert https(published["https"], "/", cafile=pebble_root).status == 200


# Disruptive: a new certificate is served. Before the ACME outage test, which
# restarts Pebble (a new root, no accounts).
@pytest.mark.disruptive(order=1)
def test_renewal_by_the_timer_unit_is_served_without_manual_reload(host, published, pebble_root):
    before = served_certificate(published["https"], cafile=pebble_root)["serial"]
    conf = f"/etc/letsencrypt/renewal/{DOMAIN}.conf"
    # Make the 90-day certificate due, then run exactly what certbot.timer runs.
    host.run_expect([0], f"sed -i 's/^# renew_before_expiry.*/renew_before_expiry = 365 days/' {conf}")
    try:
        result = host.run("systemctl start certbot.service")
        assert result.rc == 0, host.run("journalctl -u certbot.service -n 30 --no-pager").stdout
    finally:
        host.run_expect([0], f"sed -i 's/^renew_before_expiry = 365 days/# renew_before_expiry = 30 days/' {conf}")
    after = served_certificate(published["https"], cafile=pebble_root)
    assert after["serial"] != before
    assert after["serial"] == host.check_output(
        f"openssl x509 -in /etc/letsencrypt/live/{DOMAIN}/cert.pem -noout -serial").split("=")[1]


@pytest.mark.disruptive(order=2)
def test_acme_outage_fails_clearly_keeps_serving_and_recovers(host, published, pebble_root):
    """Debian 13 only (four runs, about 90 s a host): the failure message, the fallback to
    the certificate nginx has and the new registration are the certbot role's, the same on
    both releases; certbot itself obtains and renews on both (converge, the renewal test)."""
    name = host.backend.get_hostname()
    if "trixie" not in name:
        pytest.skip("the role's handling of a CA outage is checked on Debian 13 only")
    served = served_certificate(published["https"], cafile=pebble_root)
    expanded = json.dumps({"site_domains": [DOMAIN, f"www.{DOMAIN}"]})
    host.run_expect([0], "systemctl stop pebble.service")
    try:
        result = run_playbook(CONVERGE, "--limit", name, "-e", expanded)
        assert result.returncode != 0, result.stdout[-3000:]
        message = re.sub(r"\s+", " ", result.stdout)
        assert f"certbot could not obtain a certificate for {DOMAIN}, www.{DOMAIN}" in message, result.stdout[-3000:]
        assert "Connection refused" in message, result.stdout[-3000:]
        # nginx still serves the certificate it had, for the names it had.
        assert served_certificate(published["https"])["serial"] == served["serial"]
        assert http_plain(published["http"], "/x").status == 301
    finally:
        host.run_expect([0], "systemctl start pebble.service")
    # Pebble forgot every account when it stopped; the role registers anew.
    for _ in range(30):
        if host.run("python3 -c \"import socket; socket.create_connection(('127.0.0.1', 14000))\"").rc == 0:
            break
        time.sleep(1)
    result = run_playbook(CONVERGE, "--limit", name, "-e", expanded)
    assert result.returncode == 0, result.stdout[-3000:]
    with open(pebble_root, "w", encoding="utf-8") as handle:
        handle.write(fetch_pebble_root(host))
    cert = served_certificate(published["https"], cafile=pebble_root)
    assert cert["names"] == sorted([DOMAIN, f"www.{DOMAIN}"])
    again = run_playbook(CONVERGE, "--limit", name, "-e", expanded)
    assert again.returncode == 0 and re.search(r"changed=0\s", again.stdout), again.stdout[-3000:]
    # Back to the converged state: the other host's disruptive tests may
    # still follow.
    restored = run_playbook(CONVERGE, "--limit", name)
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert served_certificate(published["https"], cafile=pebble_root)["names"] == [DOMAIN]


