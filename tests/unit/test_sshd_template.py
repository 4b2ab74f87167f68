"""Render the sshd_config template for both OpenSSH versions and run `sshd -t`.

No container runs: each test-bed image's root file system is mounted
read-only under a throw-away overlay and the image's own sshd checks the
rendered file in a chroot. Needs root and the images from testbed/build-image.sh.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "ssh_hardening"
IMAGES = {"bookworm": 9, "trixie": 10}
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "testbed" / "containers.conf"))


def role_vars(openssh_major: int, **overrides) -> dict:
    """The variables crypto.yml would set, from the role's own defaults and vars."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    profile = values["ssh_hardening_crypto_profiles"][str(openssh_major)]
    policy = overrides.pop("policy", profile["kex_default_policy"])
    values.update(
        ansible_managed="Ansible managed",
        ssh_hardening_openssh_major=openssh_major,
        ssh_hardening_effective_kex_policy=policy,
        ssh_hardening_kex=profile["kex_pq"] + ([] if policy == "pq-only" else profile["kex_classic"]),
        ssh_hardening_cipher_list=values["ssh_hardening_ciphers"],
        ssh_hardening_mac_list=profile["macs"],
        ssh_hardening_hostkey_list=values["ssh_hardening_host_key_algorithms"],
        ssh_hardening_ca_list=values["ssh_hardening_ca_signature_algorithms"],
    )
    values.update(overrides)
    return values


def render(values: dict) -> str:
    templar = Templar(loader=DataLoader(), variables=values)
    return templar.template(trust_as_template((ROLE / "templates" / "sshd_config.j2").read_text()))


@pytest.fixture(scope="module", params=sorted(IMAGES))
def image_root(request):
    """A writable overlay of the image's root file system (no container)."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (mounts the test-bed image)")
    image = f"localhost/hardening-testbed:{request.param}"
    mounted = subprocess.run(["podman", "image", "mount", image], capture_output=True,
                             text=True, env=ENV, check=False)
    if mounted.returncode != 0:
        pytest.fail(f"{image} is missing: run testbed/build-image.sh {request.param} ({mounted.stderr})")
    lower = mounted.stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="sshd-template-"))
    for name in ("upper", "work", "merged"):
        (work / name).mkdir()
    merged = work / "merged"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={lower},upperdir={work}/upper,workdir={work}/work", str(merged)],
                   check=True)
    try:
        subprocess.run(["chroot", str(merged), "ssh-keygen", "-A"], check=True, capture_output=True)
        (merged / "run" / "sshd").mkdir(parents=True, exist_ok=True)
        yield request.param, merged
    finally:
        subprocess.run(["umount", str(merged)], check=False)
        subprocess.run(["podman", "image", "unmount", image], env=ENV, check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def sshd(root: Path, config: str, *args: str) -> subprocess.CompletedProcess:
    (root / "etc" / "ssh" / "sshd_config.test").write_text(config)
    return subprocess.run(["chroot", str(root), "/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config.test", *args],
                          capture_output=True, text=True, check=False)


CASES = {
    "defaults": {},
    "pq-only": {"policy": "pq-only"},
    "compatible": {"policy": "compatible"},
    "options on": {"ssh_hardening_port": 2200, "ssh_hardening_listen_addresses": ["127.0.0.1", "::1"],
                   "ssh_hardening_banner": "Authorised use only", "ssh_hardening_x11_forwarding": True,
                   "ssh_hardening_tcp_forwarding": True, "ssh_hardening_sftp_enabled": False},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_config_passes_sshd_t(image_root, case):
    suite, root = image_root
    config = render(role_vars(IMAGES[suite], **dict(CASES[case])))
    result = sshd(root, config, "-t")
    assert result.returncode == 0, f"{suite}/{case}: {result.stderr}\n{config}"


def test_effective_values_and_crypto(image_root):
    suite, root = image_root
    values = role_vars(IMAGES[suite])
    result = sshd(root, render(values), "-T", "-C", "user=deploy,host=example.test,addr=192.0.2.1")
    assert result.returncode == 0, result.stderr
    effective = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kexalgorithms"] == ",".join(values["ssh_hardening_kex"])
    if suite == "trixie":
        assert effective["kexalgorithms"].startswith("mlkem768x25519-sha256")
        assert "curve25519" not in effective["kexalgorithms"]


def test_a_typo_in_the_template_would_be_caught(image_root):
    """The check can fail: sshd -t rejects an unknown algorithm."""
    _, root = image_root
    broken = render(role_vars(9)).replace("aes256-ctr", "aes257-ctr")
    assert sshd(root, broken, "-t").returncode != 0
