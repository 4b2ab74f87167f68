"""The ufw role's filters: declared rules, user.rules parsing, pruning."""

import importlib.util
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location(
    "ufw_rules", ROOT / "roles" / "ufw" / "filter_plugins" / "ufw_rules.py")
ufw = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(ufw)

MARKER = "managed:ufw-role"
USER_RULES = """
### RULES ###

### tuple ### allow tcp 5432 0.0.0.0/0 any 192.0.2.0/24 in comment=75736572206462
-A ufw-user-input -p tcp --dport 5432 -s 192.0.2.0/24 -j ACCEPT

### tuple ### limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6d616e616765643a7566772d726f6c6520737368
### tuple ### allow tcp 8081 0.0.0.0/0 any 0.0.0.0/0 in comment=6d616e616765643a7566772d726f6c65207374616c65
### tuple ### allow any 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in
### tuple ### allow tcp 8081 ::/0 any ::/0 in comment=6d616e616765643a7566772d726f6c65207374616c65
### tuple ### allow tcp 7000 0.0.0.0/0 any 0.0.0.0/0 out comment=6d616e616765643a7566772d726f6c65
"""


def test_declared_rules_put_ssh_first_and_deduplicate():
    declared = ufw.ufw_declared_rules({
        "ssh_port": 2222, "web_ports_open": True, "web_ports": [80, 443],
        "app_port_open": True, "app_port": 8000, "app_allowed_sources": ["10.0.0.5/32"],
        "rules": [{"port": "80"}, {"port": "53:53", "proto": "udp", "comment": "dns"}],
    }, MARKER)
    assert [(r["rule"], r["port"], r["proto"], r["from"], r["comment"]) for r in declared] == [
        ("limit", "2222", "tcp", "any", "managed:ufw-role ssh"),
        ("allow", "80", "tcp", "any", "managed:ufw-role web"),
        ("allow", "443", "tcp", "any", "managed:ufw-role web"),
        ("allow", "8000", "tcp", "10.0.0.5", "managed:ufw-role app"),
        ("allow", "53", "udp", "any", "managed:ufw-role dns"),
    ]


def test_one_limit_rule_per_ssh_source_and_the_any_rule_pruned():
    declared = ufw.ufw_declared_rules({"ssh_port": 22, "ssh_sources": ["192.0.2.7/32", "2001:db8::/32"]}, MARKER)
    assert [(r["rule"], r["port"], r["from"], r["comment"]) for r in declared] == [
        ("limit", "22", "192.0.2.7", "managed:ufw-role ssh"),
        ("limit", "22", "2001:db8::/32", "managed:ufw-role ssh"),
    ]
    # The earlier any-source SSH rule is no longer declared: pruned.
    stale = ufw.ufw_stale_rules(ufw.ufw_parse_user_rules(USER_RULES), declared, MARKER)
    assert [(r["port"], r["from"]) for r in stale] == [("22", "any"), ("8081", "any")]
    # Each source's rule belongs in its own family's file only.
    v4 = [_tuple("limit", 22, "192.0.2.7", "managed:ufw-role ssh")]
    v6 = [_tuple("limit", 22, "2001:db8::/32", "managed:ufw-role ssh")]
    assert ufw.ufw_missing_rules(declared, v4, v6) == []
    assert ufw.ufw_missing_rules(declared, v4, []) == declared[1:]


def test_parse_skips_app_and_outgoing_rules_and_merges_v4_v6():
    rules = ufw.ufw_parse_user_rules(USER_RULES)
    assert rules == [
        {"rule": "allow", "proto": "tcp", "port": "5432", "from": "192.0.2.0/24", "comment": "user db"},
        {"rule": "limit", "proto": "tcp", "port": "22", "from": "any", "comment": "managed:ufw-role ssh"},
        {"rule": "allow", "proto": "tcp", "port": "8081", "from": "any", "comment": "managed:ufw-role stale"},
    ]


def test_only_undeclared_managed_rules_are_stale():
    declared = ufw.ufw_declared_rules({"ssh_port": 22, "rules": []}, MARKER)
    stale = ufw.ufw_stale_rules(ufw.ufw_parse_user_rules(USER_RULES), declared, MARKER)
    assert [r["port"] for r in stale] == ["8081"]
    # A marker that is only a prefix of another word does not count.
    assert ufw.ufw_stale_rules([{"rule": "allow", "proto": "tcp", "port": "1", "from": "any",
                                 "comment": "managed:ufw-roles"}], declared, MARKER) == []


def test_parse_takes_the_probes_lines_as_well_as_text():
    assert ufw.ufw_parse_user_rules(USER_RULES.splitlines()) == ufw.ufw_parse_user_rules(USER_RULES)


def _tuple(action, port, source, comment, proto="tcp"):
    anywhere = "::/0" if ":" in source else "0.0.0.0/0"
    return f"### tuple ### {action} {proto} {port} {anywhere} any {source} in comment={comment.encode().hex()}"


def test_missing_rules_are_those_not_held_exactly_in_every_file_they_belong_in():
    settings = {"ssh_port": 22, "web_ports_open": True, "web_ports": [80],
                "app_port_open": True, "app_port": 8000, "app_allowed_sources": ["192.0.2.7", "2001:db8::7"],
                "rules": []}
    declared = ufw.ufw_declared_rules(settings, MARKER)
    v4 = [_tuple("limit", 22, "0.0.0.0/0", "managed:ufw-role ssh"),
          _tuple("allow", 80, "0.0.0.0/0", "managed:ufw-role web"),
          _tuple("allow", 8000, "192.0.2.7", "managed:ufw-role app")]
    v6 = [_tuple("limit", 22, "::/0", "managed:ufw-role ssh"),
          _tuple("allow", 80, "::/0", "managed:ufw-role web"),
          _tuple("allow", 8000, "2001:db8::7", "managed:ufw-role app")]
    # Everything in place: nothing goes through the module.
    assert ufw.ufw_missing_rules(declared, v4, v6, True) == []
    # An `any` rule needs its IPv6 copy only while UFW handles IPv6.
    v6_without_web = [line for line in v6 if " 80 " not in line]
    assert [r["port"] for r in ufw.ufw_missing_rules(declared, v4, v6_without_web, True)] == ["80"]
    assert ufw.ufw_missing_rules(declared, v4, v6_without_web, False) == []
    # A source's rule lives in its own family's file only.
    assert [r["from"] for r in ufw.ufw_missing_rules(declared, v4, v6[:2], True)] == ["2001:db8::7"]
    assert [r["from"] for r in ufw.ufw_missing_rules(declared, v4[:2], v6, True)] == ["192.0.2.7"]
    # Same rule with another comment: the module must run to put the marker back.
    v4_other_comment = [v4[0].replace("comment=", "comment=" + "x".encode().hex())] + v4[1:]
    assert [r["port"] for r in ufw.ufw_missing_rules(declared, v4_other_comment, v6, True)] == ["22"]
    # Nothing held yet (a fresh host, or check mode before UFW is installed).
    assert ufw.ufw_missing_rules(declared, [], [], True) == declared


def test_a_rule_reads_as_one_line_in_a_report():
    (rule,) = ufw.ufw_declared_rules({"ssh_port": 22, "ssh_sources": ["192.0.2.0/24"]}, MARKER)
    assert ufw.ufw_rule_text(rule) == "limit 22/tcp from 192.0.2.0/24"


def test_every_rule_shows_in_the_audit_and_the_ones_it_cannot_map_raw():
    texts = ufw.ufw_rule_texts(USER_RULES + "### tuple ### allow any any 0.0.0.0/0 any 0.0.0.0/0 in_eth0\n")
    assert "allow 5432/tcp from 192.0.2.0/24" in texts and "limit 22/tcp from any" in texts
    assert texts.count("allow 8081/tcp from any") == 1  # the v4 and v6 copies
    # An all-ports rule on an interface, an app profile's rule, an outgoing rule: raw, never a declared rule.
    assert "raw: allow any any 0.0.0.0/0 any 0.0.0.0/0 in_eth0" in texts
    assert "raw: allow any 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in" in texts
    assert "raw: allow tcp 7000 0.0.0.0/0 any 0.0.0.0/0 out" in texts
