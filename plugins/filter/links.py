# Copyright: the hardening.stack authors. MIT License.
"""Filters of the fleet's private links (roles internal_tls and postgresql,
playbooks/vars/base.yml).

- `subject_alt_name(name)`: a certificate name as a subjectAltName entry,
  `IP:10.0.0.5` for an address, `DNS:db.internal` for a name.
- `network(address)`: an address or CIDR as a CIDR (`10.0.0.5/32`), as
  pg_hba.conf wants it.
- `firewall_rules_from(addresses, port, comment)`: one UFW rule (role ufw's
  `ufw_rules` form) per address admitting it to a TCP port.
- `database_url(host, port, name, user, password, ca_file)`: the app hosts'
  DATABASE_URL for the fleet's db host, TLS with the server verified
  (`sslmode=verify-full`) against the fleet's CA.

Pure Python (standard library): tests/unit/test_links_filters.py loads this
file by path.
"""

import ipaddress
from urllib.parse import quote, urlencode


def subject_alt_name(name):
    """IP:ADDRESS for an IP address, DNS:NAME otherwise."""
    try:
        return f"IP:{ipaddress.ip_address(name)}"
    except ValueError:
        return f"DNS:{name}"


def network(address):
    """The address or CIDR as a CIDR: a single address gets /32 (IPv4) or /128 (IPv6)."""
    return str(ipaddress.ip_network(str(address).strip(), strict=True))


def firewall_rules_from(addresses, port, comment):
    """[{port, proto: tcp, from: ADDRESS, comment}] for each address, in order, without repeats."""
    rules = []
    for address in addresses:
        rule = {"port": int(port), "proto": "tcp", "from": str(address), "comment": comment}
        if rule not in rules:
            rules.append(rule)
    return rules


def database_url(host, port, name, user, password, ca_file):
    """postgres://USER:PASSWORD@HOST:PORT/NAME?sslmode=verify-full&sslrootcert=CA_FILE.

    Every part is percent-encoded, so a password may hold any character (the
    settings decode it); an IPv6 address is bracketed. verify-full: libpq checks
    the certificate's chain against CA_FILE and its name against HOST, so a
    host that answers on the db host's address without its key is refused.
    """
    try:
        address = ipaddress.ip_address(str(host))
        netloc_host = f"[{address}]" if address.version == 6 else str(address)
    except ValueError:
        netloc_host = str(host)
    query = urlencode({"sslmode": "verify-full", "sslrootcert": str(ca_file)}, safe="/")
    return (f"postgres://{quote(str(user), safe='')}:{quote(str(password), safe='')}@{netloc_host}:{int(port)}"
            f"/{quote(str(name), safe='')}?{query}")


class FilterModule:
    """Filters of the fleet's private links."""

    def filters(self):
        return {
            "subject_alt_name": subject_alt_name,
            "network": network,
            "firewall_rules_from": firewall_rules_from,
            "database_url": database_url,
        }
