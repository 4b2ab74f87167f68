"""The host_baseline role's templates, rendered from its own defaults and vars.

The apt configuration is read back with the real `apt-config` (with a copy of
the origin list Debian's unattended-upgrades package installs), so `#clear`
is proven to leave only the security archive; needrestart's file is checked
with `perl -c`.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "host_baseline"
SECURITY = "origin=Debian,codename=${distro_codename}-security,label=Debian-Security"
# The origin list of unattended-upgrades 2.9 (Debian 12), as its postinst installs it.
PACKAGE_ORIGINS = """Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename},label=Debian";
        "origin=Debian,codename=${distro_codename},label=Debian-Security";
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
"""
PACKAGE_PERIODIC = 'APT::Periodic::Update-Package-Lists "0";\nAPT::Periodic::Unattended-Upgrade "0";\n'


def role_vars(**overrides) -> dict:
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    values.update(overrides)
    settings = {}
    for group in values["host_baseline_sysctl_groups"]:
        settings.update(group["settings"])
    settings.update(values["host_baseline_sysctl"])
    values.update(ansible_managed="Ansible managed", host_baseline_sysctl_settings=settings,
                  host_baseline_arch=overrides.get("host_baseline_arch", "x86_64"))
    return values


def render(name: str, **overrides) -> str:
    templar = Templar(loader=DataLoader(), variables=role_vars(**overrides))
    # As hardening.stack.managed renders a template.
    return templar.template(trust_as_template((ROLE / "templates" / name).read_text()), escape_backslashes=False)


def sysctl_lines(text: str) -> list[tuple[str, str]]:
    return [tuple(part.strip() for part in line.split("=", 1)) for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


def test_every_template_starts_with_the_managed_header():
    for template in sorted((ROLE / "templates").glob("*.j2")):
        first = render(template.name).splitlines()[0]
        assert "Ansible managed (role host_baseline)" in first, template.name


def test_sysctl_file_holds_each_key_once_with_overrides_in_place():
    text = render("sysctl.conf.j2", host_baseline_sysctl={"net.ipv4.ip_forward": 1, "vm.swappiness": 10})
    lines = sysctl_lines(text)
    keys = [key for key, _ in lines]
    assert len(keys) == len(set(keys)), keys
    values = dict(lines)
    assert values["net.ipv4.ip_forward"] == "1"
    assert values["vm.swappiness"] == "10"
    assert keys[-1] == "vm.swappiness"
    for key, value in {"net.ipv4.conf.all.log_martians": "1", "net.ipv4.tcp_syncookies": "1",
                       "kernel.kptr_restrict": "2", "kernel.dmesg_restrict": "1", "kernel.yama.ptrace_scope": "1",
                       "fs.suid_dumpable": "0", "fs.protected_symlinks": "1", "fs.protected_hardlinks": "1",
                       "kernel.unprivileged_bpf_disabled": "2", "net.ipv4.conf.all.rp_filter": "1"}.items():
        assert values[key] == value, key
    # Every group says why, in a comment above its keys.
    assert text.count("\n# ") >= len(role_vars()["host_baseline_sysctl_groups"])


def test_sysctl_file_without_overrides_has_no_added_section():
    assert "Added for this host" not in render("sysctl.conf.j2")


def test_container_guard_applies_only_the_network_namespace():
    text = render("systemd-sysctl-container.conf.j2")
    assert "ExecStart=\nExecStart=/lib/systemd/systemd-sysctl --prefix=/net\n" in text


def test_modprobe_file_blocks_each_module_both_ways():
    lines = render("modprobe.conf.j2").splitlines()
    for module in role_vars()["host_baseline_blocked_modules"]:
        assert f"install {module} /bin/false" in lines and f"blacklist {module}" in lines
    assert not any(m in line for line in lines for m in ("squashfs", "udf", "overlay"))


def test_audit_rules_for_32_bit_calls_only_on_x86_64():
    x86 = render("audit.rules.j2", host_baseline_audit_app_config_dir="/etc/exampleapp")
    assert "-a always,exit -F arch=b32 -S init_module,finit_module,delete_module -k modules" in x86
    assert "-w /etc/exampleapp -p wa -k app_config" in x86
    arm = render("audit.rules.j2", host_baseline_arch="aarch64")
    assert "arch=b32" not in arm and "app_config" not in arm


def test_limits_name_root_as_well_as_the_wildcard():
    lines = [line.split() for line in render("limits.conf.j2").splitlines() if not line.startswith("#")]
    assert ["*", "hard", "core", "0"] in lines and ["root", "hard", "core", "0"] in lines


@pytest.mark.skipif(shutil.which("apt-config") is None, reason="needs apt-config (Debian)")
@pytest.mark.parametrize("reboot", [False, True])
def test_apt_config_sees_only_the_security_origin(tmp_path, reboot):
    parts = tmp_path / "apt.conf.d"
    parts.mkdir()
    (parts / "20auto-upgrades").write_text(PACKAGE_PERIODIC)
    (parts / "50unattended-upgrades").write_text(PACKAGE_ORIGINS)
    (parts / "21host-baseline-auto-upgrades").write_text(render("auto-upgrades.j2"))
    (parts / "52host-baseline-unattended-upgrades").write_text(
        render("unattended-upgrades.j2", host_baseline_updates_reboot=reboot,
               host_baseline_updates_reboot_time="03:30"))
    main = tmp_path / "apt.conf"
    main.write_text(f'Dir::Etc::Parts "{parts}/";\n')
    dump = subprocess.run(["apt-config", "dump"], env=dict(os.environ, APT_CONFIG=str(main)),
                          capture_output=True, text=True, check=True).stdout.splitlines()
    origins = [line for line in dump if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")]
    assert origins == [f'Unattended-Upgrade::Origins-Pattern:: "{SECURITY}";'], dump
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    assert f'Unattended-Upgrade::Automatic-Reboot "{str(reboot).lower()}";' in dump
    assert ('Unattended-Upgrade::Automatic-Reboot-Time "03:30";' in dump) == reboot


@pytest.mark.skipif(shutil.which("perl") is None, reason="needs perl")
def test_needrestart_file_is_valid_perl(tmp_path):
    conf = tmp_path / "host-baseline.conf"
    conf.write_text(render("needrestart.conf.j2"))
    result = subprocess.run(["perl", "-c", str(conf)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "$nrconf{restart} = 'a';" in conf.read_text()
