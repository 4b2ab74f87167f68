"""The setup's own helpers: the requirements.yml check and the CA copy."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bin"))
sys.path.insert(0, str(ROOT / "testbed"))

import check_collections  # noqa: E402
import extra_cas  # noqa: E402


def test_installed_collections_satisfy_requirements_yml():
    wanted = check_collections.requirements(ROOT / "requirements.yml")
    assert {"ansible.posix", "community.general", "community.crypto"} <= set(wanted)
    assert check_collections.problems(wanted, check_collections.installed()) == []


@pytest.mark.parametrize("have,expect", [
    ({"a.b": "1.2.0"}, []),
    ({"a.b": "2.0.0"}, ["a.b: installed 2.0.0 is outside >=1.0.0,<2.0.0"]),
    ({}, ["a.b: not installed (requirements.yml wants >=1.0.0,<2.0.0)"]),
])
def test_version_ranges_are_enforced(have, expect):
    assert check_collections.problems({"a.b": ">=1.0.0,<2.0.0"}, have) == expect


def test_check_script_fails_on_an_unsatisfiable_file(tmp_path):
    bad = tmp_path / "requirements.yml"
    bad.write_text("collections:\n  - name: community.general\n    version: '<1.0.0'\n")
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "check_collections.py"), str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "community.general: installed" in result.stderr


CERT_A = "-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n"
CERT_B = "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n"


def test_only_missing_cas_are_copied_whatever_the_line_wrapping():
    rewrapped_a = CERT_A.replace("AAAA\nBBBB", "AAAABBBB")
    assert extra_cas.missing(CERT_A + CERT_B, rewrapped_a) == extra_cas.certificates(CERT_B)


def test_extra_cas_writes_one_file_per_certificate(tmp_path):
    host, image = tmp_path / "host.pem", tmp_path / "image.pem"
    host.write_text(CERT_A + CERT_B)
    image.write_text(CERT_A)
    assert extra_cas.main(["extra_cas.py", str(host), str(image), str(tmp_path / "out")]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["host-0.crt"]
    assert "CCCC" in (tmp_path / "out" / "host-0.crt").read_text()
