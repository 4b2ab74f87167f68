# Copyright: the hardening.stack authors. MIT License.
"""What a client sees of a site, read from the controller: the certificate
chain and its expiry, the TLS versions and TLS 1.2 ciphers the server
accepts, the response headers, the HTTP redirect and how an unknown name is
answered. Used by the action plugin web_probe (the audit playbook); nothing
here judges, the roles' control tables compare.

Standard library only, plus `cryptography` (an ansible-core dependency) to
read the certificate's dates.
"""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
import warnings

VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
} if hasattr(ssl, "TLSVersion") else {}


class Target:
    """Where to connect (address and ports) and which name to ask for (SNI and Host)."""

    def __init__(self, address, name, https_port=443, http_port=80, timeout=10.0):
        self.address, self.name = address, name
        self.https_port, self.http_port, self.timeout = int(https_port), int(http_port), float(timeout)

    def connect(self, port):
        return socket.create_connection((self.address, port), timeout=self.timeout)


def _open_context():
    """A context that accepts any certificate and every protocol and cipher this OpenSSL has."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def _handshake(target, context, name=None):
    """The TLS object after a handshake (the caller closes it), or raises ssl.SSLError/OSError."""
    raw = target.connect(target.https_port)
    try:
        return context.wrap_socket(raw, server_hostname=name or target.name)
    except BaseException:
        raw.close()
        raise


def certificate(target, ca_bundle=""):
    """{chain: "verified" or the verification error, days_left, not_after, issuer, names}."""
    result = {}
    context = ssl.create_default_context(cafile=ca_bundle or None)
    try:
        with _handshake(target, context):
            result["chain"] = "verified"
    except ssl.SSLCertVerificationError as error:
        result["chain"] = f"not verified: {error.verify_message}"
    except (ssl.SSLError, OSError) as error:
        result["chain"] = f"no handshake: {error}"
    try:
        with _handshake(target, _open_context()) as tls:
            der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError) as error:
        return dict(result, days_left="unknown", not_after="unknown", issuer="unknown", names=[], error=str(error))
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    return dict(result, days_left=(not_after - now).days, not_after=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                issuer=cert.issuer.rfc4514_string(), names=sorted(names))


def protocols(target, versions=("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")):
    """{accepted: [...], untested: [...]}: the versions a handshake succeeded with; those this
    controller's OpenSSL cannot offer at all are untested, not refused."""
    accepted, untested = [], []
    for version in versions:
        context = _open_context()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = context.maximum_version = VERSIONS[version]
        except (KeyError, ValueError):
            untested.append(version)
            continue
        try:
            with _handshake(target, context):
                accepted.append(version)
        except ssl.SSLError as error:
            if "NO_PROTOCOLS_AVAILABLE" in str(error) or "no protocols available" in str(error):
                untested.append(version)
        except OSError:
            pass
    return {"accepted": accepted, "untested": untested}


def tls12_ciphers_beyond(target, allowed):
    """TLS 1.2 ciphers outside `allowed` that the server accepts: offer all the others, note
    what it picks, take that one away, until it refuses (one handshake for a good server)."""
    context = _open_context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    # A cipher's "protocol" is the oldest version that has it: every one but TLS 1.3's works over TLS 1.2.
    offered = [c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3" and c["name"] not in allowed]
    accepted = []
    while offered:
        context = _open_context()
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.set_ciphers(":".join(offered) + ":@SECLEVEL=0")
            with _handshake(target, context) as tls:
                chosen = tls.cipher()[0]
        except (ssl.SSLError, OSError):
            break
        accepted.append(chosen)
        if chosen not in offered:
            break
        offered.remove(chosen)
    return sorted(accepted)


def _request(sock, name, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: hardening-audit\r\n"
                 "Connection: close\r\n\r\n".encode())
    response = http.client.HTTPResponse(sock)
    response.begin()
    headers = response.getheaders()
    response.close()
    return response.status, headers


def https_headers(target, path="/", ca_bundle=""):
    """{status, headers: {lower-case name: [values, in order]}} of a GET over HTTPS."""
    context = ssl.create_default_context(cafile=ca_bundle or None)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the chain is its own control
    with _handshake(target, context) as tls:
        status, headers = _request(tls, target.name, path)
    grouped = {}
    for key, value in headers:
        grouped.setdefault(key.lower(), []).append(value)
    return {"status": status, "headers": grouped}


def http_redirect(target, path):
    """"STATUS LOCATION" of a plain-HTTP GET."""
    with target.connect(target.http_port) as raw:
        status, headers = _request(raw, target.name, path)
    location = next((value for key, value in headers if key.lower() == "location"), "")
    return f"{status} {location}".strip()


def unknown_name(target, name):
    """How a name the site does not serve is answered: over HTTPS (the handshake) and over HTTP.
    A port that cannot be reached at all says so (it is not a refusal)."""
    return {"https": _answer(target, target.https_port, name, tls=True),
            "http": _answer(target, target.http_port, name, tls=False)}


def _answer(target, port, name, tls):
    try:
        raw = target.connect(port)
    except OSError as error:
        return f"unreachable: {error}"
    try:
        with raw, (_open_context().wrap_socket(raw, server_hostname=name) if tls else raw) as sock:
            status, _ = _request(sock, name, "/")
            return f"answered {status}"
    except ssl.SSLError:
        return "handshake refused"
    except (OSError, http.client.HTTPException):
        return "closed without an answer"


def reachable(target, port):
    """"" when a TCP connection to the port opens, else why not."""
    try:
        with target.connect(port):
            return ""
    except OSError as error:
        return f"unreachable: {error}"
