"""Security updates from inside the host: only the Debian security archive, daily."""

import re

PERIODIC = {"APT::Periodic::Update-Package-Lists": "1", "APT::Periodic::Unattended-Upgrade": "1"}


def codename(host):
    return host.check_output(". /etc/os-release && echo $VERSION_CODENAME")


def apt_config(host, key):
    """The values apt-config dump shows under key (list items and scalars)."""
    dump = host.check_output(f"apt-config dump {key}")
    return [match.group(1) for match in re.finditer(r'^\S+ "(.*)";$', dump, re.M) if match.group(1)]


def test_apt_config_allows_only_the_security_origin(host):
    assert apt_config(host, "Unattended-Upgrade::Origins-Pattern") == [
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]
    assert apt_config(host, "Unattended-Upgrade::Allowed-Origins") == []


def test_apt_runs_unattended_upgrades_daily(host):
    for key, value in PERIODIC.items():
        assert apt_config(host, key) == [value], key
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running, timer


def test_unattended_upgrade_picks_only_the_security_archive(host):
    name = codename(host)
    result = host.run("unattended-upgrade --dry-run -d")
    output = result.stdout + result.stderr
    assert result.rc == 0, output[-3000:]
    allowed = re.findall(r"Allowed origins are: (.*)$", output, re.M)
    assert allowed == [f"origin=Debian,codename={name}-security,label=Debian-Security"], output[-3000:]
    # Whatever it would upgrade comes from the security suite; nothing that is
    # upgradable only from another suite (-updates, the point release) is taken.
    upgradable = {}
    for line in host.check_output("apt list --upgradable 2>/dev/null").splitlines():
        match = re.match(r"^([^/\s]+)/(\S+) ", line)
        if match:
            upgradable[match.group(1)] = match.group(2).split(",")
    chosen = set()
    for match in re.finditer(r"^Packages that will be upgraded: (.*)$", output, re.M):
        chosen.update(match.group(1).split())
    others = {pkg for pkg, suites in upgradable.items() if not any(s.endswith("-security") for s in suites)}
    assert not chosen & others, (chosen & others, output[-3000:])


def test_no_automatic_reboot_by_default(host):
    assert apt_config(host, "Unattended-Upgrade::Automatic-Reboot") == ["false"]


def test_needrestart_restarts_services_automatically(host):
    conf = host.file("/etc/needrestart/conf.d/60-host-baseline.conf")
    assert conf.mode == 0o644 and "$nrconf{restart} = 'a';" in conf.content_string
    assert host.run("perl -c /etc/needrestart/conf.d/60-host-baseline.conf").rc == 0
    assert host.package("needrestart").is_installed
