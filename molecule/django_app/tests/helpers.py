"""Requests to the example app as a browser makes them, over the published 127.0.0.1 ports."""

import http.client
import json
import re
import time
from urllib.parse import urlencode

from testlib import http_request, https_request, response_cookies

DOMAIN = "app.test"
APP = "exampleapp"
SERVICE = f"{APP}-gunicorn.service"
BASE = f"/srv/{APP}"
MANAGE = f"/usr/local/bin/{APP}-manage"


def request(port: int, path: str = "/", method: str = "GET", headers: dict | None = None, body: str | None = None,
            tls: bool = True) -> http.client.HTTPResponse:
    """One request to 127.0.0.1:port (HTTPS with SNI app.test; nginx's certificate is a placeholder)."""
    if tls:
        return https_request(port, DOMAIN, path, method, headers, body)
    return http_request(port, DOMAIN, path, method, headers, body)


def health(port: int) -> dict:
    """The health answer; its 200 (not a redirect to HTTPS) also says Django saw the request as secure."""
    response = request(port, "/health/")
    assert response.status == 200, (response.status, response.body[:500])
    return json.loads(response.body)


def home_page(port: int) -> str:
    """The home page: rendered by the live release from its templates (tests mark releases there)."""
    response = request(port, "/")
    assert response.status == 200, (response.status, response.body[:500])
    return response.body.decode()


def wait_for_health(port: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return health(port)
        except (OSError, AssertionError, http.client.HTTPException, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


# Bodies that tell the two refusals of a login apart (both are 429).
NGINX_LIMITED = b"Too many attempts"  # nginx's limit_req page (roles/nginx/templates/429.html.j2)
AXES_LOCKED = b"Account locked"  # django-axes' lockout answer


def login_form(port: int) -> dict:
    """Headers and fields of a browser POSTing the login form: CSRF cookie, token and Origin."""
    form = request(port, "/accounts/login/")
    cookie = response_cookies(form)["__Host-csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode()).group(1)
    return {"headers": {"Origin": f"https://{DOMAIN}", "Content-Type": "application/x-www-form-urlencoded",
                        "Cookie": f"__Host-csrftoken={cookie}"},
            "token": token}


def post_login(port: int, form: dict, user: str, password: str, path: str = "/accounts/login/"):
    """One login POST with a valid CSRF token, as a browser sends it."""
    body = urlencode({"username": user, "password": password, "csrfmiddlewaretoken": form["token"]})
    return request(port, path, "POST", form["headers"], body)


def post_login_past_nginx(port: int, form: dict, user: str, password: str, patience: float = 90):
    """A login POST that Django answers: waits out nginx's rate limit (its 429) if it is hit."""
    deadline = time.monotonic() + patience
    while True:
        response = post_login(port, form, user, password)
        if not (response.status == 429 and NGINX_LIMITED in response.body) or time.monotonic() > deadline:
            return response
        time.sleep(2)


def signed_in(port: int, user: str, password: str) -> dict:
    """A browser's headers once USER has logged in: session and CSRF cookies, Origin."""
    form = login_form(port)
    login = post_login_past_nginx(port, form, user, password)
    assert login.status == 302, (login.status, login.body[:500])
    jar = response_cookies(login)
    csrf = jar["__Host-csrftoken"].value if "__Host-csrftoken" in jar else form["headers"]["Cookie"].split("=", 1)[1]
    return {**form["headers"], "Cookie": f"__Host-sessionid={jar['__Host-sessionid'].value}; __Host-csrftoken={csrf}"}


def guestbook(port: int, browser: dict) -> str:
    page = request(port, "/guestbook/", headers=browser)
    assert page.status == 200, (page.status, page.body[:500])
    return page.body.decode()


def sign_guestbook(port: int, browser: dict, text: str) -> None:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', guestbook(port, browser)).group(1)
    signed = request(port, "/guestbook/", "POST", browser, urlencode({"text": text, "csrfmiddlewaretoken": token}))
    assert signed.status == 302, (signed.status, signed.body[:500])
