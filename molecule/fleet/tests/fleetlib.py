"""The fleet's hosts and the requests the tests make through them.

Requests from the test machine go through the web host's published port; an
app host is also asked directly from the web host, the one address its
firewall admits to gunicorn.
"""

import os
import re
import shlex
import subprocess
import uuid
from urllib.parse import urlencode

import testinfra
import yaml

from testlib import https_request, response_cookies

DOMAIN = "sandbox.test"
APP = "exampleapp"
APP_PORT = 8000
DB_PORT = 5432
MANAGE = f"/usr/local/bin/{APP}-manage"
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(PROJECT, "testbed", "containers.conf"))
# How long each nginx worker skips an app host after one failed attempt (max_fails 1,
# per worker): the sandbox's group_vars, which the scenario links.
with open(os.path.join(PROJECT, "inventories", "sandbox", "group_vars", "all", "main.yml")) as _group_vars:
    FAIL_TIMEOUT = int(yaml.safe_load(_group_vars)["app_upstream_fail_timeout"])


def fleet_host(name: str):
    return testinfra.get_host(f"ansible://fleet-{name}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}")


def address(host) -> str:
    return host.interface("eth0").addresses[0]


def podman(*args: str) -> None:
    subprocess.run(["podman", *args], env=ENV, check=True, capture_output=True, timeout=180)


def create_user(app) -> tuple[str, str]:
    """A new user made on an app host (in the database every app host shares)."""
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex + "Aa1!"
    app.check_output(f"{MANAGE} shell -c \"from django.contrib.auth.models import User; "
                     f"User.objects.create_user('{user}', password='{password}')\"")
    return user, password


def signed_in(port: int, cafile: str, user: str, password: str) -> dict:
    """A browser's headers once USER has logged in through the site: session and CSRF cookies, Origin."""
    form = https_request(port, DOMAIN, "/accounts/login/", cafile=cafile)
    assert form.status == 200, (form.status, form.body[:500])
    csrf = response_cookies(form)["__Host-csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode()).group(1)
    headers = {"Origin": f"https://{DOMAIN}", "Content-Type": "application/x-www-form-urlencoded",
               "Cookie": f"__Host-csrftoken={csrf}"}
    login = https_request(port, DOMAIN, "/accounts/login/", "POST", headers,
                          urlencode({"username": user, "password": password, "csrfmiddlewaretoken": token}),
                          cafile=cafile)
    assert login.status == 302, (login.status, login.body[:500])
    jar = response_cookies(login)
    csrf = jar["__Host-csrftoken"].value if "__Host-csrftoken" in jar else csrf
    return {**headers, "Cookie": f"__Host-sessionid={jar['__Host-sessionid'].value}; __Host-csrftoken={csrf}"}


def guestbook(port: int, cafile: str, browser: dict) -> str:
    page = https_request(port, DOMAIN, "/guestbook/", headers=browser, cafile=cafile)
    assert page.status == 200, (page.status, page.body[:500])
    return page.body.decode()


def sign_guestbook(port: int, cafile: str, browser: dict, text: str) -> None:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', guestbook(port, cafile, browser)).group(1)
    signed = https_request(port, DOMAIN, "/guestbook/", "POST", browser,
                           urlencode({"text": text, "csrfmiddlewaretoken": token}), cafile=cafile)
    assert signed.status == 302, (signed.status, signed.body[:500])


TLS_DIR = "/etc/hardening-tls"
LINK_NAME = "app-hosts.internal"  # the name nginx checks (playbooks/vars/topology.yml)

# Run on the web host: one GET to an app host's gunicorn, as nginx sends it:
# over TLS for LINK_NAME (scheme "tls", or "tls1.2": at most TLS 1.2) with
# the client certificate and key named (none: "" ""), or over plain HTTP
# (scheme "plain"). Prints the status and body, or "refused: " and the error;
# on stderr, the seconds it took.
_THROUGH_APP = """import http.client, socket, ssl, sys, time
started = time.monotonic()
address, port, path, host, cookie, scheme, cert, key, cafile, name = sys.argv[1:11]
connection = http.client.HTTPConnection(address, int(port), timeout=10)
try:
    if scheme != "plain":
        context = ssl.create_default_context(cafile=cafile)
        if scheme == "tls1.2":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        if cert:
            context.load_cert_chain(cert, key)
        connection.sock = context.wrap_socket(socket.create_connection((address, int(port)), timeout=10),
                                              server_hostname=name)
    connection.request("GET", path, headers={"Host": host, "X-Forwarded-Proto": "https", "Cookie": cookie})
    response = connection.getresponse()
except (OSError, http.client.HTTPException) as error:
    print("refused: " + type(error).__name__ + " " + str(error))
else:
    print(response.status)
    sys.stdout.write(response.read().decode())
sys.stderr.write(f"{time.monotonic() - started:.3f}")"""


def timed_through_app(web, app, path: str, cookie: str = "", scheme: str = "tls",
                      cert: str = f"{TLS_DIR}/nginx.crt", key: str = f"{TLS_DIR}/nginx.key") -> tuple[str, str, float]:
    """(status or "refused: ...", body, seconds) of PATH asked of one app host from the web host,
    with a browser's cookies; by default as nginx does (TLS, its client certificate)."""
    args = " ".join(shlex.quote(str(arg)) for arg in (address(app), APP_PORT, path, DOMAIN, cookie, scheme,
                                                       cert, key, f"{TLS_DIR}/ca.crt", LINK_NAME))
    result = web.run(f"python3 -c {shlex.quote(_THROUGH_APP)} {args}")
    assert result.rc == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    return status, body, float(result.stderr)


def through_app(web, app, path: str, *how, **more) -> tuple[str, str]:
    """timed_through_app's status and body."""
    status, body, _ = timed_through_app(web, app, path, *how, **more)
    return status, body
