"""Requests to the example app as a browser makes them, over the published 127.0.0.1 ports."""

import http.client
import json
import time

from testlib import http_request, https_request

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
    response = request(port, "/health/")
    assert response.status == 200, (response.status, response.body[:500])
    return json.loads(response.body)


def wait_for_health(port: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return health(port)
        except (OSError, AssertionError, http.client.HTTPException, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
