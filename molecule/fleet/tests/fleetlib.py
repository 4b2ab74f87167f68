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

from testlib import https_request, response_cookies

DOMAIN = "sandbox.test"
APP = "exampleapp"
APP_PORT = 8000
DB_PORT = 5432
MANAGE = f"/usr/local/bin/{APP}-manage"
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(PROJECT, "testbed", "containers.conf"))


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


# Run on the web host: one GET to an app host's gunicorn, as nginx sends it.
_THROUGH_APP = """import http.client, sys
connection = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
connection.request("GET", sys.argv[3], headers={"Host": sys.argv[4], "X-Forwarded-Proto": "https",
                                                "Cookie": sys.argv[5]})
response = connection.getresponse()
print(response.status)
sys.stdout.write(response.read().decode())"""


def through_app(web, app, path: str, cookie: str) -> tuple[int, str]:
    """(status, body) of PATH asked of one app host from the web host, with a browser's cookies."""
    args = " ".join(shlex.quote(str(arg)) for arg in (address(app), APP_PORT, path, DOMAIN, cookie))
    status, _, body = web.check_output(f"python3 -c {shlex.quote(_THROUGH_APP)} {args}").partition("\n")
    return int(status), body
