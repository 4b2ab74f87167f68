"""roles/django_app/files/csp_reports.py: browsers' CSP reports parsed into records (no query strings,
no credentials), and the operator's summary of a log, rotated and compressed files included.
The receiving middleware runs in test_django_settings.py, through the rendered settings."""

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "roles" / "django_app" / "files" / "csp_reports.py"
SPEC = importlib.util.spec_from_file_location("csp_reports", FILE)
csp_reports = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(csp_reports)

# What Chromium POSTs to a report-uri (application/csp-report) for an inline script.
CHROMIUM_INLINE = {"csp-report": {
    "document-uri": "https://sandbox.test/guestbook/?token=secret#x", "referrer": "",
    "violated-directive": "script-src-elem", "effective-directive": "script-src-elem",
    "original-policy": "default-src 'self'; script-src 'self'; report-uri /_csp-report/",
    "disposition": "report", "blocked-uri": "inline", "line-number": 12,
    "source-file": "https://sandbox.test/guestbook/?token=secret", "status-code": 200, "script-sample": ""}}
# The Reporting API's batch (application/reports+json) for an image from a CDN.
REPORTING_API_IMAGE = [
    {"type": "csp-violation", "age": 10, "url": "https://sandbox.test/", "user_agent": "x",
     "body": {"documentURL": "https://sandbox.test/", "blockedURL": "https://user:pw@cdn.example.net/a.png?sig=1",
              "effectiveDirective": "img-src", "disposition": "enforce", "sourceFile": None, "lineNumber": 0}},
    {"type": "deprecation", "body": {"id": "x"}},
]


def test_a_report_uri_report_becomes_a_record_without_the_query():
    assert csp_reports.parse(json.dumps(CHROMIUM_INLINE).encode()) == [{
        "document": "/guestbook/", "directive": "script-src-elem", "blocked": "inline",
        "source": "https://sandbox.test/guestbook/", "line": 12, "disposition": "report"}]


def test_a_reporting_api_batch_keeps_the_violations_and_only_the_blocked_origin():
    assert csp_reports.parse(json.dumps(REPORTING_API_IMAGE)) == [{
        "document": "/", "directive": "img-src", "blocked": "https://cdn.example.net", "source": "",
        "line": 0, "disposition": "enforce"}]


@pytest.mark.parametrize("body", [b"", b"not json", b"{}", b"[1, 2]", b'{"csp-report": "x"}', b"\xff\xfe"])
def test_anything_else_is_no_report(body):
    assert csp_reports.parse(body) == []


def test_the_summary_counts_advises_and_reads_rotated_logs(tmp_path):
    inline = json.dumps(csp_reports.parse(json.dumps(CHROMIUM_INLINE))[0], sort_keys=True)
    image = json.dumps(csp_reports.parse(json.dumps(REPORTING_API_IMAGE))[0], sort_keys=True)
    (tmp_path / "csp-reports.log").write_text(f"2026-11-30 10:00:00,000 {inline}\n" * 3 + "garbage line\n")
    with gzip.open(tmp_path / "csp-reports.log.2.gz", "wt") as rotated:
        rotated.write(f"2026-11-20 10:00:00,000 {image}\n")
    summary = csp_reports.summarise(csp_reports._lines(  # pylint: disable=protected-access
        [str(tmp_path / "csp-reports.log"), str(tmp_path / "csp-reports.log.2.gz")]))
    assert [(entry["directive"], entry["blocked"], entry["count"]) for entry in summary] == [
        ("script-src-elem", "inline", 3), ("img-src", "https://cdn.example.net", 1)]
    assert summary[0]["seen"] == ["/guestbook/ (https://sandbox.test/guestbook/:12)"]
    assert "static file" in summary[0]["advice"]
    assert summary[1]["advice"] == 'add "https://cdn.example.net" to img-src if you trust it'


def test_the_installed_tool_reads_the_apps_logs_by_default(tmp_path):
    """The tool as the role installs it (templates/csp-report.j2 names the app's log), run as a program."""
    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.plugins.loader import init_plugin_loader  # pylint: disable=import-outside-toplevel
    from ansible.template import Templar, trust_as_template  # pylint: disable=import-outside-toplevel
    from ansible.utils.collection_loader import AnsibleCollectionConfig  # pylint: disable=import-outside-toplevel
    if not AnsibleCollectionConfig.collection_finder:
        init_plugin_loader([str(ROOT / "collections")])
    loader = DataLoader()
    loader.set_basedir(str(ROOT / "roles" / "django_app"))
    templar = Templar(loader=loader, variables={"django_app_log_dir": str(tmp_path), "role_path": str(FILE.parents[1])})
    tool = tmp_path / "app-csp-report"
    tool.write_text(templar.template(trust_as_template(
        (ROOT / "roles" / "django_app" / "templates" / "csp-report.j2").read_text())))
    assert f'DEFAULT_LOGS = ("{tmp_path}/csp-reports.log*",)' in tool.read_text()
    assert tool.read_text().splitlines()[1].startswith("# Managed by Ansible")
    record = json.dumps(csp_reports.parse(json.dumps(CHROMIUM_INLINE))[0])
    (tmp_path / "csp-reports.log.1").write_text(f"t {record}\n")
    done = subprocess.run([sys.executable, str(tool)], capture_output=True, text=True, check=True)
    assert "1 kinds of CSP violation" in done.stdout and "script-src-elem blocked inline" in done.stdout
    as_json = subprocess.run([sys.executable, str(tool), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(as_json.stdout)[0]["count"] == 1
    (tmp_path / "csp-reports.log.1").unlink()
    empty = subprocess.run([sys.executable, str(tool)], capture_output=True, text=True, check=True)
    assert empty.stdout.strip() == "No CSP violations reported."
