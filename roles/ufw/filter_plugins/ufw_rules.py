"""Filters of the ufw role: normalise declared rules, read UFW's rule files.

Input checks are the shared validators (plugins/filter/validators.py).

Pure functions (no Ansible state) so tests/unit/test_ufw_filters.py can test
them without a host. A rule is a dict {rule, proto, port, from, comment}:
rule is allow or limit, proto tcp|udp|any, port "22" or "8000:8010", from
"any" or a normalised address/network. Its identity (key) is everything but
the comment, which is how UFW itself tells rules apart.
"""

import ipaddress
import re

PORT_RE = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?$")
ANY_SOURCES = ("any", "0.0.0.0/0", "::/0")
# ### tuple ### ACTION PROTO DPORT DST SPORT SRC DIRECTION[ comment=HEX]
TUPLE_RE = re.compile(r"^### tuple ### (.*)$")


def normalise_source(source):
    """`any` for any source, else the address (single host) or network as UFW prints it."""
    text = str(source).strip()
    if text in ANY_SOURCES:
        return "any"
    network = ipaddress.ip_network(text, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def normalise_port(port):
    """"22" or "8000:8010" (a one-port range collapses to the port)."""
    match = PORT_RE.match(str(port).strip())
    low, high = match.group(1), match.group(2)
    return str(int(low)) if not high or int(high) == int(low) else f"{int(low)}:{int(high)}"


def ufw_declared_rules(settings, marker):
    """Every rule the role must hold, in order, deduplicated by key (first wins).

    settings: ssh_port, ssh_sources, web_ports_open, web_ports, app_port_open,
    app_port, app_allowed_sources, rules (the role's variables without the
    ufw_ prefix). playbooks/base.yml calls it with ssh_port and ssh_sources
    only, to add the same SSH rules before sshd moves to a new port.
    """
    wanted = [{"rule": "limit", "proto": "tcp", "port": settings["ssh_port"], "from": source, "comment": "ssh"}
              for source in settings.get("ssh_sources", ["any"])]
    if settings.get("web_ports_open"):
        wanted += [{"rule": "allow", "proto": "tcp", "port": port, "from": "any", "comment": "web"}
                   for port in settings.get("web_ports", [])]
    if settings.get("app_port_open"):
        wanted += [{"rule": "allow", "proto": "tcp", "port": settings["app_port"], "from": source, "comment": "app"}
                   for source in settings.get("app_allowed_sources", [])]
    for rule in settings.get("rules", []):
        wanted.append({"rule": "allow", "proto": rule.get("proto", "tcp"), "port": rule["port"],
                       "from": rule.get("from", "any"), "comment": rule.get("comment", "") or "rule"})
    result, seen = [], set()
    for rule in wanted:
        rule = dict(rule, port=normalise_port(rule["port"]), **{"from": normalise_source(rule["from"])})
        rule["comment"] = f"{marker} {rule['comment']}".strip()
        key = rule_key(rule)
        if key not in seen:
            seen.add(key)
            result.append(rule)
    return result


def rule_key(rule):
    """What tells two rules apart for UFW: action, protocol, port, source."""
    return f"{rule['rule']} {rule['proto']} {rule['port']} {rule['from']}"


def ufw_rule_text(rule):
    """A rule as one line for a report: `limit 22/tcp from any`."""
    return f"{rule['rule']} {rule['port']}/{rule['proto']} from {rule['from']}"


def ufw_parse_user_rules(text):
    """Simple incoming rules from user.rules/user6.rules text or lines (others are skipped).

    Returns dicts {rule, proto, port, from, comment}; v4 and v6 copies of an
    `any` rule collapse into one.
    """
    rules, seen = [], set()
    lines = text if isinstance(text, (list, tuple)) else str(text).splitlines()
    for line in lines:
        match = TUPLE_RE.match(line.strip())
        if not match:
            continue
        fields = match.group(1).split()
        comment = ""
        if fields and fields[-1].startswith("comment="):
            try:
                comment = bytes.fromhex(fields.pop()[len("comment="):]).decode("utf-8", "replace")
            except ValueError:
                comment = ""
        # action proto dport dst sport src direction; app rules, interfaces, routes, `out` are skipped.
        if len(fields) != 7 or fields[6] != "in" or fields[3] not in ANY_SOURCES or fields[4] != "any":
            continue
        action, proto, port, _dst, _sport, source, _direction = fields
        if port == "any":
            continue
        rule = {"rule": action, "proto": proto, "port": port, "from": normalise_source(source),
                "comment": comment}
        key = rule_key(rule)
        if key not in seen:
            seen.add(key)
            rules.append(rule)
    return rules


def ufw_rule_texts(text):
    """Every rule in user.rules/user6.rules text or lines, as one report line each: the
    simple incoming ones as ufw_rule_text writes them, any other (an interface, a
    route, an outgoing or all-ports rule) as its raw tuple, so it can never pass for
    a declared rule; duplicates (v4 and v6 copies) once, sorted."""
    lines = text if isinstance(text, (list, tuple)) else str(text).splitlines()
    texts = {ufw_rule_text(rule) for rule in ufw_parse_user_rules(lines)}
    for line in lines:
        match = TUPLE_RE.match(str(line).strip())
        if match and not ufw_parse_user_rules([line]):
            texts.add("raw: " + re.sub(r" comment=[0-9a-f]*$", "", match.group(1)))
    return sorted(texts)


def ufw_stale_rules(current, declared, marker):
    """Managed rules (comment starts with marker) in current whose key is not declared."""
    wanted = {rule_key(rule) for rule in declared}
    return [rule for rule in current
            if (rule["comment"] == marker or rule["comment"].startswith(marker + " "))
            and rule_key(rule) not in wanted]


def ufw_missing_rules(declared, v4_lines, v6_lines, ipv6=True):
    """Declared rules UFW does not yet hold exactly (same key and comment) in
    every rule file they belong in: user.rules for IPv4 and `any` sources,
    user6.rules for IPv6 sources and, when UFW handles IPv6, `any` sources.
    """
    held_v4 = {(rule_key(rule), rule["comment"]) for rule in ufw_parse_user_rules(v4_lines)}
    held_v6 = {(rule_key(rule), rule["comment"]) for rule in ufw_parse_user_rules(v6_lines)}
    missing = []
    for rule in declared:
        if rule["from"] == "any":
            files = [held_v4, held_v6] if ipv6 else [held_v4]
        else:
            files = [held_v6] if ipaddress.ip_network(rule["from"], strict=False).version == 6 else [held_v4]
        if not all((rule_key(rule), rule["comment"]) in held for held in files):
            missing.append(rule)
    return missing


class FilterModule:
    """Filters of the ufw role."""

    def filters(self):
        return {
            "ufw_declared_rules": ufw_declared_rules,
            "ufw_parse_user_rules": ufw_parse_user_rules,
            "ufw_rule_text": ufw_rule_text,
            "ufw_rule_texts": ufw_rule_texts,
            "ufw_stale_rules": ufw_stale_rules,
            "ufw_missing_rules": ufw_missing_rules,
        }
