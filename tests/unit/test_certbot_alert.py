"""certbot-alert's pure parts: the expiry arithmetic and the messages an operator reads."""

import datetime
import importlib.machinery
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_LOADER = importlib.machinery.SourceFileLoader("certbot_alert", str(ROOT / "roles/certbot/files/certbot-alert"))
_SPEC = importlib.util.spec_from_loader("certbot_alert", _LOADER)
alert = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(alert)
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_enddate_as_openssl_prints_it():
    assert alert.parse_enddate("notAfter=Feb  5 08:09:10 2027 GMT\n") == datetime.datetime(2027, 2, 5, 8, 9, 10,
                                                                                           tzinfo=UTC)


def test_only_certificates_inside_the_threshold_soonest_first():
    expiries = {"far.test": NOW + datetime.timedelta(days=60), "soon.test": NOW + datetime.timedelta(days=3, hours=5),
                "sooner.test": NOW + datetime.timedelta(hours=30), "edge.test": NOW + datetime.timedelta(days=14)}
    assert alert.expiring(expiries, 14, NOW) == [("sooner.test", 1), ("soon.test", 3)]


def test_an_expired_certificate_is_said_to_be_expired():
    found = alert.expiring({"old.test": NOW - datetime.timedelta(days=2, hours=1)}, 14, NOW)
    assert found == [("old.test", -3)]
    assert "old.test expired 3 days ago" in alert.expiry_message(found, 14)


def test_messages_name_the_certificate_and_the_unit():
    assert alert.expiry_message([("site.test", 5)], 14).startswith(
        "certificate alert (threshold 14 days): site.test expires in 5 days.")
    message = alert.failure_message("certbot.service", ["", "Renewal failed", "Connection refused  "])
    assert message == ("certbot.service failed: the certificate was not renewed. "
                       "Last log lines: Renewal failed | Connection refused")


def test_config_defaults_and_file(tmp_path):
    assert alert.load_config(str(tmp_path / "missing.json")) == {"days": 14, "webhook": ""}
    path = tmp_path / "alert.json"
    path.write_text(json.dumps({"_managed": "x", "days": 7, "webhook": "https://h.example/x"}))
    assert alert.load_config(str(path)) == {"days": 7, "webhook": "https://h.example/x"}
