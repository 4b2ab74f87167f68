#!/usr/bin/python3
"""Test bed backend: answers every request with the headers it received.

Stands in for gunicorn behind nginx. It also sends its own
Strict-Transport-Security header (nginx must replace it, not add a second)
and logs each request path (and a POST's body), so a test can tell whether a
request reached it. A second instance on 127.0.0.1:9099 takes the certificate
alerts' webhook.
Usage: echo_backend.py unix:/run/echo.sock | echo_backend.py 127.0.0.1:8000
"""

import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

LOG = "/var/log/echo-backend.log"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(self.path + "\n")
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Strict-Transport-Security", "max-age=1")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        # A POST's body is logged after its path (the certificate alert webhook's JSON).
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        self.path = f"{self.path} {body}".rstrip()
        self.do_GET()

    def log_message(self, *args):
        pass


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("unix", 0)


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(address: str) -> None:
    if address.startswith("unix:"):
        path = address[len("unix:"):]
        if os.path.exists(path):
            os.unlink(path)
        server = UnixServer(path, Handler)
        os.chmod(path, 0o666)
    else:
        host, port = address.rsplit(":", 1)
        server = TCPServer((host, int(port)), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
