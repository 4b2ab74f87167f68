"""plugins/filter/links.py: certificate names, pg_hba networks and firewall rules."""

import importlib.util
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("links_filters", ROOT / "plugins" / "filter" / "links.py")
links = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(links)
VALIDATORS_SPEC = importlib.util.spec_from_file_location("validators_filters",
                                                         ROOT / "plugins" / "filter" / "validators.py")
validators = importlib.util.module_from_spec(VALIDATORS_SPEC)
VALIDATORS_SPEC.loader.exec_module(validators)


def test_subject_alt_names_tell_addresses_from_names():
    assert links.subject_alt_name("10.0.0.5") == "IP:10.0.0.5"
    assert links.subject_alt_name("fd00::5") == "IP:fd00::5"
    assert links.subject_alt_name("db.internal") == "DNS:db.internal"


def test_networks_for_pg_hba():
    assert links.network("10.0.0.5") == "10.0.0.5/32"
    assert links.network("fd00::5") == "fd00::5/128"
    assert links.network("10.0.1.0/24") == "10.0.1.0/24"


def test_one_firewall_rule_per_address_without_repeats():
    rules = links.firewall_rules_from(["10.0.0.11", "10.0.0.12", "10.0.0.11"], "5432", "postgresql")
    assert rules == [{"port": 5432, "proto": "tcp", "from": "10.0.0.11", "comment": "postgresql"},
                     {"port": 5432, "proto": "tcp", "from": "10.0.0.12", "comment": "postgresql"}]
    assert links.firewall_rules_from([], 5432, "x") == []


def test_filters_are_exported():
    assert set(links.FilterModule().filters()) == {"subject_alt_name", "network", "firewall_rules_from",
                                                  "database_url"}


def test_the_database_url_verifies_the_server_and_survives_any_password():
    url = links.database_url("10.0.0.5", "5432", "shop", "shop", "p@ss:w/rd'%?&#", "/etc/hardening-tls/ca.crt")
    assert url == ("postgres://shop:p%40ss%3Aw%2Frd%27%25%3F%26%23@10.0.0.5:5432/shop"
                   "?sslmode=verify-full&sslrootcert=/etc/hardening-tls/ca.crt")
    parts = urlsplit(url)
    # What the production settings read back from it (templates/production_settings.py.j2).
    assert (unquote(parts.username), unquote(parts.password), parts.hostname, parts.port) == (
        "shop", "p@ss:w/rd'%?&#", "10.0.0.5", 5432)
    assert dict(parse_qsl(parts.query)) == {"sslmode": "verify-full", "sslrootcert": "/etc/hardening-tls/ca.crt"}
    assert validators.database_url_errors(url, "django_app_database_url") == []
    assert links.database_url("fd00::5", 5432, "a", "b", "c", "/ca.crt").startswith("postgres://b:c@[fd00::5]:5432/a?")
