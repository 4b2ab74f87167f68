"""Requests to the example app as a browser makes them, over the published 127.0.0.1 ports."""

import http.client
import json
import socket
import ssl
import time

DOMAIN = "app.test"
APP = "exampleapp"
SERVICE = f"{APP}-gunicorn.service"
BASE = f"/srv/{APP}"
MANAGE = f"/usr/local/bin/{APP}-manage"


def request(port: int, path: str = "/", method: str = "GET", headers: dict | None = None, body: str | None = None,
            tls: bool = True) -> http.client.HTTPResponse:
    """One request to 127.0.0.1:port (HTTPS with SNI app.test; nginx's certificate is a placeholder)."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
        connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                              server_hostname=DOMAIN)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(method, path, body=body, headers={"Host": DOMAIN, **(headers or {})})
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


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
