"""The sandbox's whole site as a visitor and an attacker see it from outside:
over the published 127.0.0.1 ports (8080, 8443, 2222), and at the container's
own address for the firewall. Then drift made by hand is put right by the next
run of site.yml. `--check --diff` on a converged site runs in the fleet scenario
(every role of site.yml) and in each role's scenario.

What `bin/sandbox up` itself does (two runs, the second changing nothing) and
the certificate's chain are test_sandbox.py's; the audit's controls are
test_audit.py's. sslyze and ssh-audit judge the same nginx and sshd
configuration in the nginx_certbot and ssh_hardening scenarios, on both
releases."""

import re
import shlex
import socket
import time
import uuid
from urllib.parse import urlencode

import pytest

from sandboxlib import ROOT, awx_job, container
from testlib import LIMIT_PAUSE, changed_tasks, http_request, https_request, retry_penalised, ssh
from testlib import response_cookies as cookies

DOMAIN = "sandbox.test"
APP = "exampleapp"
MANAGE = f"/usr/local/bin/{APP}-manage"
HTTP, HTTPS, SSH = 8080, 8443, 2222
CA = str(ROOT / ".sandbox" / "pebble-root.pem")
HSTS = ["max-age=3600; includeSubDomains"]  # hsts_max_age in the sandbox's shared values


def page(path="/", **kwargs):
    return https_request(HTTPS, DOMAIN, path, cafile=CA, **kwargs)


def debian_major() -> str:
    return container("cut -d. -f1 /etc/debian_version").stdout.strip()


def test_plain_http_redirects_to_https_keeping_path_and_query_whatever_the_client_claims(runs):
    """A client's X-Forwarded-Proto is not believed: nginx sets it from the connection."""
    response = http_request(HTTP, DOMAIN, "/guestbook/?page=2", headers={"X-Forwarded-Proto": "https"})
    assert response.status == 301
    assert response.getheader("Location") == f"https://{DOMAIN}:{HTTPS}/guestbook/?page=2"


@pytest.mark.parametrize("path", ["/", "/health/", "/no-such-page/"])
def test_security_headers_on_app_answers(runs, path):
    response = page(path)
    assert response.headers.get_all("Strict-Transport-Security") == HSTS
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Referrer-Policy") == "same-origin"
    if response.status == 200:
        assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")


def test_static_files_come_from_nginx_with_one_hsts_header(runs):
    html = page("/").body.decode()
    href = re.search(r'href="(/static/[^"]+\.css)"', html).group(1)
    response = page(href)
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/css")
    assert response.headers.get_all("Strict-Transport-Security") == HSTS
    assert "max-age=" in response.getheader("Cache-Control")


def test_login_cookies_are_secure_and_csrf_is_enforced(runs):
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    # `manage.py shell` reads its code from stdin: the password is on no command line.
    container(f"{MANAGE} shell", stdin="from django.contrib.auth.models import User; "
              f"User.objects.create_user({user!r}, password={password!r})")
    form = page("/accounts/login/")
    csrf = cookies(form)["__Host-csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode()).group(1)
    headers = {"Origin": f"https://{DOMAIN}", "Content-Type": "application/x-www-form-urlencoded",
               "Cookie": f"__Host-csrftoken={csrf.value}"}
    credentials = {"username": user, "password": password}
    refused = page("/accounts/login/", method="POST", headers=headers, body=urlencode(credentials))
    assert refused.status == 403
    login = page("/accounts/login/", method="POST", headers=headers,
                 body=urlencode({**credentials, "csrfmiddlewaretoken": token}))
    assert login.status == 302, login.body[:500]
    session = cookies(login)["__Host-sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


def test_login_posts_beyond_the_rate_get_429_from_nginx(runs):
    """site.yml passes the admin's login (app_admin_url) to nginx's limit: 10r/m, burst 10."""
    statuses = [page("/admin/login/", method="POST", body="").status for _ in range(15)]
    assert statuses.count(429) >= 4 and set(statuses) <= {403, 429}, statuses  # 403: Django's CSRF refusal
    assert page("/admin/login/").status == 200  # the form itself is never limited
    time.sleep(13)  # two POSTs allowed again, for whatever logs in next (test_own_project.py's admin)


def test_the_deploy_check_is_clean_on_the_releases_django(runs):
    result = container(f"{MANAGE} check --deploy --fail-level WARNING", check=False)
    assert result.returncode == 0 and "identified no issues" in result.stdout, result.stdout + result.stderr
    # Django 5.2 LTS on Debian 12 (Python 3.11), 6 on Debian 13.
    version = container(f"{MANAGE} shell -c 'import django; print(django.get_version())'").stdout
    assert version.splitlines()[-1].startswith("5." if debian_major() == "12" else "6."), version


def test_a_password_is_not_offered_and_the_admin_has_sudo(runs):
    key = str(ROOT / ".sandbox" / "id_ed25519")
    admin = retry_penalised(lambda: ssh(SSH, "deploy", key, "sudo -n true"))
    assert admin.returncode == 0, admin.stderr
    password = retry_penalised(lambda: ssh(SSH, "deploy", None, "true", "-o", "PreferredAuthentications=password"))
    assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr


def reachable(address: str, port: int, tries: int = 1) -> bool:
    """A TCP connection to address:port succeeds within tries attempts."""
    for attempt in range(tries):
        try:
            with socket.create_connection((address, port), timeout=3):
                return True
        except OSError:
            if attempt < tries - 1:
                time.sleep(LIMIT_PAUSE)
    return False


@pytest.fixture
def stray_service(runs):
    """Something listening on every address that the stack does not need."""
    container("systemd-run --unit=stray /usr/bin/python3 -m http.server 9000 && "
              "for i in $(seq 50); do ss -Htln | grep -q ':9000 ' && exit 0; sleep 0.2; done; exit 1")
    yield 9000
    container("systemctl stop stray", check=False)


def test_only_ssh_and_web_ports_are_reachable_from_outside(stray_service):
    """Every TCP port listening beyond loopback inside, tried at the container's address."""
    address = container("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1").stdout.strip()
    listening = set()
    for line in container("ss -Htln").stdout.splitlines():
        ip, port = line.split()[3].rsplit(":", 1)
        if not ip.startswith(("127.", "[::1]", "::1")):
            listening.add(int(port))
    assert {22, 80, 443, stray_service} <= listening, listening
    for port in sorted(listening):
        expected = port in (22, 80, 443)
        # Patience only where an answer is expected: earlier SSH logins may have
        # used up this source's UFW `limit` allowance (see LIMIT_PAUSE).
        assert reachable(address, port, tries=5 if expected else 1) == expected, port


# Each role reads the host's state in one round trip (hardening.stack.host_state)
# and skips what is already in place; drift must still be seen and put right,
# through the same modules (and validation) as before.
DRIFT = {
    "sshd_config edited": ("echo '# drift' >> /etc/ssh/sshd_config",
                           "! grep -q '^# drift' /etc/ssh/sshd_config",
                           "ssh_hardening : Write sshd_config"),
    "sudoers mode": ("chmod 0644 /etc/sudoers.d/ssh-hardening-deploy",
                     "test $(stat -c %a /etc/sudoers.d/ssh-hardening-deploy) = 440",
                     "ssh_hardening : Grant or remove sudo rights"),
    "DSA host key back": ("touch /etc/ssh/ssh_host_dsa_key",
                          "test ! -e /etc/ssh/ssh_host_dsa_key",
                          "ssh_hardening : Remove DSA and ECDSA host keys"),
    "web rule deleted": ("ufw delete allow 80/tcp",
                         "ufw status | grep -Eq '^80/tcp +ALLOW.*managed:ufw-role web'",
                         "ufw : Add the declared rules"),
    "forward policy": ("sed -i 's/^DEFAULT_FORWARD_POLICY=.*/DEFAULT_FORWARD_POLICY=\"ACCEPT\"/' /etc/default/ufw",
                       "grep -qx 'DEFAULT_FORWARD_POLICY=\"DROP\"' /etc/default/ufw",
                       "ufw : Set the default policies"),
    "nginx.conf edited": ("echo '# drift' >> /etc/nginx/nginx.conf",
                          "! grep -q '^# drift' /etc/nginx/nginx.conf",
                          "nginx : Remove Debian's default site; write the snippets, nginx.conf"),
    "default site back": ("ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default",
                          "test ! -e /etc/nginx/sites-enabled/default",
                          "nginx : Remove Debian's default site; write the snippets, nginx.conf"),
    "env file mode": (f"chmod 0644 /etc/{APP}/env",
                      f"test $(stat -c %a /etc/{APP}/env) = 640",
                      "django_app : Write the environment file"),
    "renewal timer off": ("systemctl disable --now certbot.timer",
                          "systemctl is-enabled certbot.timer && systemctl is-active certbot.timer",
                          "certbot : Enable Debian's renewal timer"),
}


def holds(check: str) -> bool:
    return container(f"sh -c {shlex.quote(check)}", check=False).returncode == 0


def test_drift_is_put_right_by_the_next_run_as_awx_runs_it(runs, tmp_path):
    for drift, _, _ in DRIFT.values():
        container(drift)
    assert not [name for name, (_, repaired, _) in DRIFT.items() if holds(repaired)], "drift not made"
    # The repairing run is an AWX job (ansible-runner: the checkout as the
    # project, the sandbox inventory, no prompts); the idempotent run is
    # test_sandbox.py's second `bin/sandbox up`.
    result, output = awx_job(tmp_path)
    assert result.status == "successful" and result.rc == 0, output[-3000:]
    assert result.stats["ok"].get("sandbox", 0) > 50
    changed = changed_tasks(output)
    for what, (_, repaired, task) in DRIFT.items():
        assert holds(repaired), what
        assert f"TASK [{task}" in changed, f"{what}: {task} did not report the change"
