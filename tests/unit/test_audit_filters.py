"""The audit's filters (plugins/filter/audit.py): control tables and the shaping of raw reads."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("audit_filters", ROOT / "plugins" / "filter" / "audit.py")
audit = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(audit)


def row(**kwargs):
    return dict({"id": "ssh.port", "title": "Port", "observed": "22", "expected": "22"}, **kwargs)


def test_every_filter_is_exported():
    assert set(audit.FilterModule().filters()) == set(audit.FILTERS)


def test_equal_values_pass_and_others_fail():
    (passed,) = audit.audit_controls([row()])
    assert passed == {"id": "ssh.port", "group": "ssh", "title": "Port", "status": "pass",
                      "observed": "22", "expected": "22"}
    assert audit.audit_controls([row(observed="2222")])[0]["status"] == "fail"
    assert audit.audit_controls([row(observed={"a": ["x"]}, expected={"a": ["x"]})])[0]["status"] == "pass"
    assert audit.audit_controls([row(observed=["b", "a"], expected=["a", "b"])])[0]["status"] == "fail"


@pytest.mark.parametrize("compare, observed, expected, status", [
    ("at_most", 1.1, 2.0, "pass"), ("at_most", "2.0", 2, "pass"), ("at_most", 2.5, "2.0", "fail"),
    ("at_least", 89, 14, "pass"), ("at_least", 1, 14, "fail"), ("at_least", -3, 14, "fail"),
    # Not a number (never ran, unreadable): not within the bound.
    ("at_most", "never", 2, "fail"), ("at_least", "unknown", 14, "fail"), ("at_most", True, 2, "fail"),
])
def test_bounds(compare, observed, expected, status):
    (result,) = audit.audit_controls([row(observed=observed, expected=expected, compare=compare)])
    assert result["status"] == status
    assert result["expected"] == f"{compare.replace('_', ' ')} {expected}"


def test_a_skip_reason_replaces_the_observed_value():
    (result,) = audit.audit_controls([row(observed="garbage", skip="a container keeps the machine's clock")])
    assert result["status"] == "skip" and result["observed"] == "a container keeps the machine's clock"
    assert audit.audit_controls([row(skip="")])[0]["status"] == "pass"


@pytest.mark.parametrize("table, message", [
    ([row(id="Port")], "valid id"),
    ([row(), row()], "declared twice"),
    ([row(compare="roughly")], "compare must be"),
    ([{"id": "ssh.port", "title": "t", "observed": 1}], "has no expected"),
    (["ssh.port"], "valid id"),
])
def test_a_broken_table_is_refused(table, message):
    with pytest.raises(audit.ControlError, match=message):
        audit.audit_controls(table)


SSHD_T = [
    "192.0.2.10 passwordauthentication no", "10.0.0.10 passwordauthentication no",
    "192.0.2.10 permitrootlogin no", "10.0.0.10 permitrootlogin yes",
    "192.0.2.10 ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
    "10.0.0.10 ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
    "192.0.2.10 subsystem sftp /usr/lib/openssh/sftp-server",
]


def test_sshd_values_are_read_per_source_and_a_difference_shows_each():
    values = audit.sshd_effective(SSHD_T, ["PasswordAuthentication", "permitrootlogin", "ciphers", "allowusers",
                                           "subsystem"])
    assert values == {"PasswordAuthentication": "no", "permitrootlogin": "10.0.0.10=yes | 192.0.2.10=no",
                      "ciphers": "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
                      "allowusers": "(unset)", "subsystem": "sftp /usr/lib/openssh/sftp-server"}


KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ops@laptop"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb stranger"


def test_authorized_keys_compare_by_key_not_by_comment_or_options():
    admins = [{"name": "deploy", "authorized_keys": [KEY_A]}]
    same = audit.authorized_keys_audit(["deploy # a comment line", 'deploy from="10.0.0.0/8" ' + KEY_A[:-10]], admins)
    assert same["observed"] == same["expected"] == {"deploy": ["ssh-ed25519 …aaaaaaaaaaaa ops@laptop"]}
    extra = audit.authorized_keys_audit(["deploy " + KEY_A, "deploy " + KEY_B, "other " + KEY_B], admins)
    assert extra["observed"]["deploy"] == ["ssh-ed25519 …aaaaaaaaaaaa ops@laptop", "ssh-ed25519 …bbbbbbbbbbbb stranger"]
    # Without exclusive keys, keys the inventory does not list are the user's business.
    assert audit.authorized_keys_audit(["deploy " + KEY_A, "deploy " + KEY_B], admins, False)["observed"] == \
        extra["expected"]
    missing = audit.authorized_keys_audit([], admins)
    assert missing["observed"] == {"deploy": []} and missing["expected"]["deploy"]


SS = [
    'tcp   LISTEN 0 4096  0.0.0.0:22  0.0.0.0:* users:(("sshd",pid=1,fd=3))',
    'tcp   LISTEN 0 511   [::]:443    [::]:* users:(("nginx",pid=2,fd=7))',
    'tcp   LISTEN 0 128   127.0.0.1:14000 0.0.0.0:* users:(("pebble",pid=3,fd=3))',
    'tcp   LISTEN 0 128   [::1]:5432  [::]:* users:(("postgres",pid=4,fd=3))',
    'tcp   LISTEN 0 5     0.0.0.0:9999 0.0.0.0:* users:(("python3",pid=5,fd=3))',
    'udp   UNCONN 0 0     10.0.0.5:8000 0.0.0.0:* users:(("gunicorn",pid=6,fd=3))',
    'tcp   LISTEN 0 5     *:8010 *:* users:(("app",pid=7,fd=3))',
    'tcp   LISTEN 0 5     [fe80::1%eth0]:7000 [::]:*',
]


def rules(*ports, proto="tcp"):
    return [{"port": port, "proto": proto} for port in ports]


def test_listeners_beyond_loopback_on_ports_the_firewall_does_not_admit():
    assert audit.exposed_listeners(SS, rules("22", "80", "443") + rules("8000:8005", proto="any")) == [
        "tcp *:8010 (app)", "tcp 0.0.0.0:9999 (python3)", "tcp [fe80::1%eth0]:7000"]
    # A rule admits its own protocol only: UDP on a TCP port is exposed.
    assert "udp 10.0.0.5:8000 (gunicorn)" in audit.exposed_listeners(SS, rules("22", "80", "443", "8000"))


def test_exposure_and_check_results():
    assert audit.exposure_score(["x", "→ Overall exposure level for nginx.service: 2.5 OK :-)"]) == 2.5
    assert audit.exposure_score(["Unit nginx.service not found."]) == "unknown"
    output = ["System check identified some issues:", "WARNINGS:",
              "?: (security.W018) You should not have DEBUG set to True in deployment.",
              "?: (security.W004) You have not set a value for the SECURE_HSTS_SECONDS setting."]
    assert audit.django_check_result(output, 1) == ["security.W004", "security.W018"]
    assert audit.django_check_result(["System check identified no issues (0 silenced)."], 0) == "no issues"
    assert audit.django_check_result(["Traceback …", "ModuleNotFoundError: No module named 'x'"], 1) == \
        "ModuleNotFoundError: No module named 'x'"
    assert audit.django_check_result([], 127) == "failed (status 127)"
    leaked = ["ImproperlyConfigured: cannot connect to postgres://app:s3cret@db.internal:5432/app"]
    assert audit.django_check_result(leaked, 1) == \
        "ImproperlyConfigured: cannot connect to postgres://***@db.internal:5432/app"


def test_header_values():
    headers = {"x-frame-options": ["DENY"], "x-content-type-options": ["nosniff", "nosniff"]}
    assert audit.header_values(headers, ["X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"]) == {
        "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff, nosniff", "Referrer-Policy": "(missing)"}


ITEMS = [
    {"concern": "env", "path": "/etc/app/env", "template": "env.j2", "group": "app", "mode": "0640"},
    {"concern": "directories", "path": "/srv/app", "state": "directory", "mode": "0755"},
    {"concern": "current", "path": "/srv/app/current", "state": "link", "src": "/srv/app/releases/r1"},
    {"concern": "env", "path": "/etc/app/old", "state": "absent"},
    {"concern": "env", "path": "", "content": "x", "mode": "0600", "when": "False"},
    {"concern": "units", "path": "/etc/x.service", "template": "x.j2", "mode": "0644"},
]


def test_mode_drift_names_what_differs_in_the_chosen_concerns():
    paths = {
        "/etc/app/env": {"type": "file", "owner": "root", "group": "app", "mode": "0644"},
        "/srv/app": {"type": "directory", "owner": "www-data", "group": "root", "mode": "0755"},
        "/srv/app/current": {"type": "link", "target": "/srv/app/releases/r0"},
        "/etc/app/old": {"type": "file", "owner": "root", "group": "root", "mode": "0600"},
        "/etc/x.service": {"type": "absent"},
    }
    assert audit.mode_drift(ITEMS, paths, ["env", "directories", "current"]) == {
        "/etc/app/env": "mode 0644 (not 0640)",
        "/srv/app": "owner www-data (not root)",
        "/srv/app/current": "links to /srv/app/releases/r0 (not /srv/app/releases/r1)",
        "/etc/app/old": "file, not absent",
    }
    converged = {
        "/etc/app/env": {"type": "file", "owner": "root", "group": "app", "mode": "0640"},
        "/srv/app": {"type": "directory", "owner": "root", "group": "root", "mode": "0755"},
        "/srv/app/current": {"type": "link", "target": "/srv/app/releases/r1"},
    }
    assert audit.mode_drift(ITEMS, converged, ["env", "directories", "current"]) == {}
