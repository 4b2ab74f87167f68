"""login.defs, banner, time sync, audit rules and the journal, from inside the host."""

import re


def test_login_defs(host):
    defs = host.file("/etc/login.defs").content_string
    for key, value in (("UMASK", "027"), ("ENCRYPT_METHOD", "YESCRYPT"), ("PASS_MIN_DAYS", "1"),
                       ("PASS_WARN_AGE", "7"), ("PASS_MAX_DAYS", "99999")):
        lines = re.findall(rf"^\s*{key}\s+(\S+)\s*$", defs, re.M)
        assert lines and lines[-1] == value, (key, lines)


def test_banner(host):
    # run(), not content_string: that strips the final newline being checked.
    assert host.run("cat /etc/issue.net").stdout == "Authorised use only. Activity is logged.\n"
    assert host.run("cat /etc/issue").stdout == "Authorised use only. Activity is logged.\n\n"


def test_time_sync_is_enabled(host):
    conf = host.file("/etc/systemd/timesyncd.conf.d/60-host-baseline.conf").content_string
    assert "NTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org" in conf
    assert host.service("systemd-timesyncd").is_enabled
    # timedated reports NTP=yes only where the unit can run: not in a container
    # (ConditionVirtualization=!container), where the clock is the machine's.
    in_container = host.run("systemd-detect-virt --container").rc == 0
    assert host.check_output("timedatectl show -p NTP --value") == ("no" if in_container else "yes")


def test_audit_rules_are_written_and_auditd_left_off_in_a_container(host):
    rules = host.file("/etc/audit/rules.d/60-host-baseline.rules")
    assert rules.mode == 0o640
    for line in ("-w /etc/passwd -p wa -k identity", "-w /etc/sudoers.d -p wa -k sudoers",
                 "-w /etc/ssh/sshd_config.d -p wa -k sshd", "-w /etc/exampleapp -p wa -k app_config",
                 "-w /usr/bin/kmod -p x -k modules"):
        assert line in rules.content_string.splitlines(), line
    assert "-S adjtimex,settimeofday,clock_settime -k time-change" in rules.content_string
    assert host.package("auditd").is_installed
    assert not host.service("auditd").is_enabled and not host.service("auditd").is_running


def test_nothing_the_role_installed_fails_in_the_container(host):
    assert host.run("systemctl is-failed --quiet auditd.service systemd-timesyncd.service").rc != 0


def test_journal_is_persistent_and_capped(host):
    conf = host.file("/etc/systemd/journald.conf.d/60-host-baseline.conf").content_string
    assert "Storage=persistent" in conf and "SystemMaxUse=500M" in conf
    assert host.file("/var/log/journal").is_directory
