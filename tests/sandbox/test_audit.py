"""The audit (playbooks/audit.yml) against the sandbox, as an operator runs it.

On the converged sandbox every control passes, nothing changes (the recap
and the checksums of the files under /etc, /usr/local and /srv say so) and
the JSON report validates against its schema. Then nine kinds of drift are
made by hand at once, each aimed at one control, and exactly those controls
fail, each showing the drifted value; a tenth (an ACCEPT rule put in the
kernel beside an active UFW) is audited on its own; once the drift is undone
the audit passes again with the same report.
"""

import datetime
import json

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from sandboxlib import ROOT, container, playbook, recap

SCHEMA = ROOT / "playbooks" / "audit-report.schema.json"
DOMAIN = "sandbox.test"
# Every regular file the stack writes or reads (the app's logs and data aside:
# the running app writes them).
CHECKSUMS = ("find /etc /usr/local /srv -xdev -type f ! -path '/srv/*/data/*' ! -path '/srv/*/logs/*' -print0"
             " | sort -z | xargs -0 sha256sum")
# Controls that may be skipped on the sandbox, and why: a container keeps the
# machine's clock; a new container's daily update timer has not run yet; one
# host serves its own app over a unix socket (no TCP link to take TLS).
MAY_SKIP = {"baseline.time_synced", "baseline.updates_recent", "app.tcp_link"}
DRIFT_DIR = "/root/audit-drift"


def audit(report_dir, *args):
    run = playbook("playbooks/audit.yml", "-e", f"audit_report_dir={report_dir}", *args)
    report = json.loads((report_dir / "audit.json").read_text()) if (report_dir / "audit.json").exists() else None
    return run, report


def controls(report):
    (host,) = report["hosts"]
    assert host["host"] == "sandbox" and host["complete"]
    return {control["id"]: control for control in host["controls"]}


@pytest.fixture(scope="module")
def clean(runs, tmp_path_factory):
    before = container(CHECKSUMS).stdout
    run, report = audit(tmp_path_factory.mktemp("clean"))
    after = container(CHECKSUMS).stdout
    return run, report, before, after


def test_on_the_converged_sandbox_every_control_passes_and_nothing_changes(clean):
    run, report, before, after = clean
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    counts = recap(run.stdout)
    assert counts["changed"] == 0 and counts["failed"] == 0, counts
    found = controls(report)
    assert len(found) >= 30 and {c["group"] for c in found.values()} >= {
        "baseline", "ssh", "firewall", "tls", "http", "app", "nginx", "certbot"}
    others = {cid: (c["status"], c["observed"]) for cid, c in found.items() if c["status"] != "pass"}
    assert set(others) <= MAY_SKIP and all(status == "skip" for status, _ in others.values()), others
    assert before == after, "the audit changed files on the host"
    assert f"{len(found)} controls: {len(found) - len(others)} pass, 0 fail" in run.stdout


def test_the_reports_validate_and_name_every_control(clean):
    _, report, _, _ = clean
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(report)
    assert report["summary"]["fail"] == 0 and report["summary"]["hosts"] == 1


def short_lived_certificate(tmp_path):
    """A test CA and a certificate for the site from it, valid for two days: the
    audit is given a bundle that trusts this CA, so only the expiry is wrong."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "audit drift test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    bundle = tmp_path / "trusted.pem"
    bundle.write_bytes((ROOT / ".sandbox" / "pebble-root.pem").read_bytes() + ca.public_bytes(pem))
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return leaf.public_bytes(pem).decode() + ca.public_bytes(pem).decode(), private, bundle


def stranger_key():
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{public} stranger@drift"


LIVE = f"/etc/letsencrypt/live/{DOMAIN}"
HSTS_FILES = "/etc/nginx/snippets/hardening-security-headers.conf /etc/nginx/snippets/hardening-proxy.conf"
SETTINGS = "/srv/exampleapp/current/production_settings.py"
AUTHORIZED_KEYS = "/home/deploy/.ssh/authorized_keys"
RELOAD_NGINX = "nginx -t 2>/dev/null && systemctl reload nginx"
# Each drift by hand: the one control it must fail, the commands that make it
# (with their stdin) and the command that undoes it. Files are kept (cp -a,
# so owner, mode and times come back too) in DRIFT_DIR first.
KEEP = f"mkdir -p {DRIFT_DIR} && cp -a"


def drifts(tmp_path):
    fullchain, privkey, bundle = short_lived_certificate(tmp_path)
    table = [
        # A door for one network only: the role's check finds it (every source the Match blocks name).
        ("ssh.every_source", [("cat > /etc/ssh/sshd_config.d/50-drift.conf",
                               "Match Address 198.51.100.0/24\n    PasswordAuthentication yes\n")],
         "rm -f /etc/ssh/sshd_config.d/50-drift.conf"),
        ("ssh.authorized_keys", [(f"{KEEP} {AUTHORIZED_KEYS} {DRIFT_DIR}/keys && cat >> {AUTHORIZED_KEYS}",
                                  stranger_key() + "\n")],
         f"cp -a {DRIFT_DIR}/keys {AUTHORIZED_KEYS}"),
        ("firewall.rules", [("ufw allow 8081/tcp", None)], "ufw delete allow 8081/tcp"),
        ("firewall.active", [("ufw disable", None)], "ufw --force enable"),
        ("firewall.listening", [("systemd-run --unit=audit-drift-listener /usr/bin/python3 -m http.server --bind 0.0.0.0 9999",
                                 None)],
         "systemctl stop audit-drift-listener"),
        ("http.hsts", [(f"{KEEP} {HSTS_FILES} {DRIFT_DIR}/ && sed -i '/add_header Strict-Transport-Security/d' "
                        f"{HSTS_FILES} && {RELOAD_NGINX}", None)],
         f"cd {DRIFT_DIR} && cp -a hardening-security-headers.conf hardening-proxy.conf /etc/nginx/snippets/ "
         f"&& {RELOAD_NGINX}"),
        # Written through certbot's live links, which stay as they are.
        ("tls.expiry", [(f"{KEEP} $(readlink -f {LIVE}/fullchain.pem) {DRIFT_DIR}/fullchain.pem && "
                         f"cp -a $(readlink -f {LIVE}/privkey.pem) {DRIFT_DIR}/privkey.pem && "
                         f"cat > {LIVE}/fullchain.pem", fullchain),
                        (f"cat > {LIVE}/privkey.pem && {RELOAD_NGINX}", privkey)],
         f"cp -a {DRIFT_DIR}/fullchain.pem $(readlink -f {LIVE}/fullchain.pem) && "
         f"cp -a {DRIFT_DIR}/privkey.pem $(readlink -f {LIVE}/privkey.pem) && {RELOAD_NGINX}"),
        ("app.check_deploy", [(f"{KEEP} {SETTINGS} {DRIFT_DIR}/settings.py && echo 'DEBUG = True' >> {SETTINGS}",
                               None)],
         f"cp -a {DRIFT_DIR}/settings.py {SETTINGS}"),
        ("baseline.sysctl", [("sysctl -qw net.ipv4.conf.all.send_redirects=1", None)],
         "sysctl -qw net.ipv4.conf.all.send_redirects=0"),
    ]
    return table, bundle


@pytest.fixture(scope="module")
def drifted(clean, tmp_path_factory):
    """Every drift made, the audit run, every drift undone (in reverse) and the audit
    run again; the undo runs whatever happened, so the other tests find the
    sandbox as it was."""
    tmp_path = tmp_path_factory.mktemp("drift")
    table, bundle = drifts(tmp_path)
    undo = []
    try:
        for _, steps, revert in table:
            undo.append(revert)
            for command, stdin in steps:
                container(command, stdin=stdin)
        # The bundle trusts the test CA too: the chain verifies, only the expiry is short.
        run, report = audit(tmp_path / "drifted", "-e", f"nginx_audit_ca_bundle={bundle}")
    finally:
        for revert in reversed(undo):
            container(revert, check=False)
        container(f"rm -rf {DRIFT_DIR}", check=False)
    # A rule put in the kernel beside UFW (UFW itself still active): its own run, as
    # UFW stopped above hides it.
    try:
        container("iptables -I INPUT 1 -j ACCEPT")
        beside, report_beside = audit(tmp_path / "beside", "--tags", "audit_firewall")
    finally:
        container("iptables -D INPUT -j ACCEPT", check=False)
    again, report_again = audit(tmp_path / "restored")
    return [control for control, _, _ in table], run, report, again, report_again, beside, report_beside


def test_each_drift_fails_exactly_its_control(drifted):
    expected, run, report, *_ = drifted
    assert run.returncode == 2, run.stdout[-4000:] + run.stderr[-2000:]
    counts = recap(run.stdout)
    assert counts["changed"] == 0, counts
    found = controls(report)
    failed = sorted(cid for cid, control in found.items() if control["status"] == "fail")
    assert failed == sorted(expected)
    assert f"{len(expected)} controls failed" in run.stdout


def test_each_failure_shows_the_drifted_value(drifted):
    _, _, report, *_ = drifted
    found = {cid: control["observed"] for cid, control in controls(report).items()}
    assert "198.51.100." in found["ssh.every_source"] and "passwordauthentication yes" in found["ssh.every_source"]
    assert any("stranger@drift" in key for key in found["ssh.authorized_keys"]["deploy"])
    assert "allow 8081/tcp from any" in found["firewall.rules"]
    assert found["firewall.active"] == "Status: inactive"
    assert any(":9999" in listener and "python3" in listener for listener in found["firewall.listening"])
    assert found["http.hsts"] == {"/": {"Strict-Transport-Security": "(missing)"},
                                  "/static/audit-missing-file": {"Strict-Transport-Security": "(missing)"}}
    assert found["tls.expiry"] <= 2
    assert "security.W018" in found["app.check_deploy"]  # DEBUG on
    assert found["baseline.sysctl"] == {"net.ipv4.conf.all.send_redirects": "1"}


def test_a_rule_beside_ufw_fails_the_live_chain_control(drifted):
    *_, beside, report = drifted
    assert beside.returncode == 2, beside.stdout[-4000:]
    found = controls(report)
    assert sorted(cid for cid, c in found.items() if c["status"] == "fail") == ["firewall.live"]
    assert "-A INPUT -j ACCEPT" in found["firewall.live"]["observed"]["iptables"]
    assert {c["group"] for c in found.values()} == {"firewall"}  # --tags audit_firewall: that layer only


def test_undone_drift_gives_the_first_report_again(clean, drifted):
    """The JSON report is stable between runs (the certificate's days left aside: a day may turn)."""
    _, _, _, again, report_again, _, _ = drifted
    assert again.returncode == 0, again.stdout[-4000:]
    first = clean[1]
    for report in (first, report_again):
        controls(report)["tls.expiry"]["observed"] = "days"
    assert report_again == first
