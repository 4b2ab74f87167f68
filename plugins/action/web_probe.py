# Copyright: the hardening.stack authors. MIT License.
"""Read a live site from the controller as a client sees it: TLS and HTTP."""

from __future__ import annotations

DOCUMENTATION = r"""
name: web_probe
short_description: Read a site's certificate, TLS versions and ciphers, headers and redirects from the controller
description:
  - Connects from the controller (never from the host) to the site's HTTPS
    and HTTP ports, as a client would, and returns what it saw; it judges
    nothing (the nginx and certbot roles' control tables compare).
  - The chain is verified against O(ca_bundle) (the controller's trust store
    when empty) for O(name); the certificate's expiry is read even when the
    chain does not verify.
  - TLS versions from 1.0 to 1.3 are tried one by one; a version this
    controller's OpenSSL cannot offer is reported as untested, not refused.
    TLS 1.2 ciphers outside O(allowed_ciphers) are offered until the server
    refuses them all; the ones it accepted are returned.
  - When the HTTPS port cannot be reached, every TLS and HTTPS observation is
    the reason (it starts with C(unreachable)), so no control comparing them passes.
  - Changes nothing anywhere; runs in check mode too (it only reads).
options:
  address:
    description: Address the controller connects to (the web host's, or a published port's).
    type: str
    required: true
  name:
    description: The site's name, sent as SNI and Host.
    type: str
    required: true
  https_port:
    description: HTTPS port as the controller reaches it.
    type: int
    default: 443
  http_port:
    description: HTTP port as the controller reaches it.
    type: int
    default: 80
  ca_bundle:
    description: CA file on the controller the chain must verify against; empty for the system trust store.
    type: str
    default: ""
  allowed_ciphers:
    description: The TLS 1.2 ciphers the site may accept (OpenSSL names).
    type: list
    elements: str
    default: []
  path:
    description: Path requested over HTTPS for the headers and over HTTP for the redirect.
    type: str
    default: /
  own_path:
    description: A path nginx answers itself (not the app), whose headers are read too; empty for none.
    type: str
    default: ""
  unknown_name:
    description: A name the site does not serve, sent to see how it is refused.
    type: str
    default: audit-unknown.invalid
author: hardening.stack authors
"""

RETURN = r"""
certificate:
  description: C(chain) (verified, or why not), C(days_left), C(not_after), C(issuer), C(names).
  type: dict
protocols:
  description: C(accepted) and C(untested) TLS versions.
  type: dict
tls12_ciphers_beyond:
  description: TLS 1.2 ciphers outside allowed_ciphers the server accepted.
  type: list
https:
  description: C(status) and C(headers) (lower-case name to its values, in order) of a GET over HTTPS.
  type: dict
https_own:
  description: The same for O(own_path) (empty headers when none was given).
  type: dict
http_redirect:
  description: Status and Location of a GET over plain HTTP.
  type: str
unknown_name:
  description: How a name the site does not serve is answered, over C(https) and C(http).
  type: dict
"""

import http.client
import ssl

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hardening.stack.plugins.plugin_utils import web_probe


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("address", "name", "https_port", "http_port", "ca_bundle", "allowed_ciphers",
                             "path", "own_path", "unknown_name"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        args = self._task.args
        try:
            target = web_probe.Target(str(args["address"]), str(args["name"]), args.get("https_port", 443),
                                      args.get("http_port", 80))
        except (KeyError, TypeError, ValueError) as error:
            raise AnsibleActionFail(f"web_probe needs address, name and numeric ports: {error}") from None
        path = str(args.get("path") or "/")
        ca_bundle = str(args.get("ca_bundle") or "")
        unknown = str(args.get("unknown_name") or "audit-unknown.invalid")
        https_down = web_probe.reachable(target, target.https_port)
        if https_down:
            # Nothing over TLS can be read: every observation says why, none passes.
            result.update(certificate={"chain": https_down, "days_left": https_down, "not_after": "unknown",
                                       "issuer": "unknown", "names": []},
                          protocols={"accepted": https_down, "untested": []}, tls12_ciphers_beyond=https_down,
                          https={"status": https_down, "headers": {}},
                          https_own={"status": https_down, "headers": {}})
        else:
            own = str(args.get("own_path") or "")
            result.update(https=self._headers(target, path, ca_bundle),
                          https_own=self._headers(target, own, ca_bundle) if own else {"status": "", "headers": {}},
                          certificate=web_probe.certificate(target, ca_bundle),
                          protocols=web_probe.protocols(target),
                          tls12_ciphers_beyond=web_probe.tls12_ciphers_beyond(
                              target, list(args.get("allowed_ciphers") or [])))
        try:
            redirect = web_probe.http_redirect(target, path)
        except (OSError, http.client.HTTPException) as error:
            redirect = f"no answer: {error}"
        result.update(changed=False, http_redirect=redirect, unknown_name=web_probe.unknown_name(target, unknown))
        return result

    @staticmethod
    def _headers(target, path, ca_bundle):
        try:
            return web_probe.https_headers(target, path, ca_bundle)
        except (ssl.SSLError, OSError, http.client.HTTPException) as error:
            return {"status": f"no answer: {error}", "headers": {}}
