"""Who can log in, tried from the host over the published SSH port."""

import re
import subprocess

from testlib import ephemeral, retry_penalised, ssh

ADMIN_KEY = ephemeral("id_admin")
OUTSIDER_KEY = ephemeral("id_outsider")


def test_sshd_runs_as_the_platform_was_prepared(host):
    """Debian 13 here is socket-activated as Ubuntu ships it: the other tests
    prove the first run hardened the daemon systemd starts from ssh.socket."""
    socket_activated = host.system_info.codename == "trixie"
    assert host.service("ssh.socket").is_enabled == socket_activated
    assert host.service("ssh.service").is_enabled != socket_activated


def test_admin_key_login_succeeds(published):
    result = ssh(published["ssh"], "deploy", ADMIN_KEY, "id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deploy"


def test_the_legal_banner_is_shown_before_login(published):
    # LogLevel=INFO: ssh prints the server's banner only at INFO and above.
    args = ["ssh", "-F", "/dev/null", "-p", str(published["ssh"]), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=INFO",
            "-o", "IdentitiesOnly=yes", "-i", ADMIN_KEY, "deploy@127.0.0.1", "true"]
    result = retry_penalised(lambda: subprocess.run(args, capture_output=True, text=True, timeout=20, check=False))
    assert result.returncode == 0, result.stderr
    assert "Authorised use only.\n" in result.stderr, result.stderr


def test_admin_has_passwordless_sudo(published):
    result = ssh(published["ssh"], "deploy", ADMIN_KEY, "sudo -n id -u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_password_login_is_not_offered_although_the_user_has_one(host, published):
    # A real crypt hash (yescrypt on Debian 12/13), not "*" or "!".
    assert host.check_output("getent shadow deploy | cut -d: -f2").startswith("$")
    result = ssh(published["ssh"], "deploy", None, "true",
                 "-o", "PreferredAuthentications=password,keyboard-interactive",
                 "-o", "PubkeyAuthentication=no")
    assert result.returncode == 255
    # ssh prints the methods the server would accept in parentheses.
    assert re.findall(r"Permission denied \(([^)]*)\)", result.stderr) == ["publickey"], result.stderr


def test_root_with_a_valid_key_is_refused(host, published):
    # The key is in root's authorized_keys (prepare.yml): only sshd stops it.
    assert host.file("/root/.ssh/authorized_keys").contains("ssh-ed25519")
    result = ssh(published["ssh"], "root", ADMIN_KEY)
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_user_outside_the_allow_list_is_refused(host, published):
    assert host.file("/home/outsider/.ssh/authorized_keys").exists
    result = ssh(published["ssh"], "outsider", OUTSIDER_KEY)
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_cloud_init_drop_in_cannot_weaken_the_policy(host):
    assert host.file("/etc/ssh/sshd_config.d/50-cloud-init.conf").contains("PasswordAuthentication yes")
    effective = host.check_output("sshd -T -C user=deploy,host=example.test,addr=192.0.2.7")
    values = dict(line.split(" ", 1) for line in effective.splitlines() if " " in line)
    assert values["passwordauthentication"] == "no"
    assert values["permitrootlogin"] == "no"
    assert values["kbdinteractiveauthentication"] == "no"
    assert values["authenticationmethods"] == "publickey"
    assert values["pubkeyauthentication"] == "yes"
    assert values["permitemptypasswords"] == "no"
    assert values["allowgroups"] == "ssh-users"
    assert values["x11forwarding"] == "no"
    # No side door: one key file, no key command, principals, user CA or rc script.
    assert values["authorizedkeysfile"] == ".ssh/authorized_keys"
    assert values["authorizedkeyscommand"] == "none"
    assert values["authorizedprincipalsfile"] == "none"
    assert values["trustedusercakeys"] == "none"
    assert values["permituserrc"] == "no"
    assert values["disableforwarding"] == "yes"
    assert values["allowtcpforwarding"] == "no"
    assert values["allowagentforwarding"] == "no"
    assert values["usedns"] == "no"
    assert values["maxauthtries"] == "3"


def test_sshd_config_is_readable_by_root_only(host):
    config = host.file("/etc/ssh/sshd_config")
    assert (config.user, config.group, config.mode) == ("root", "root", 0o600)


def test_only_ed25519_and_large_rsa_host_keys(host):
    keys = host.check_output("ls /etc/ssh/ | grep '^ssh_host_.*_key$' | sort").split()
    assert keys == ["ssh_host_ed25519_key", "ssh_host_rsa_key"]
    assert "4096" in host.check_output("ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub")


def test_no_weak_dh_moduli(host):
    weak = host.check_output("awk '$1 !~ /^#/ && $5 < 3071' /etc/ssh/moduli | wc -l")
    assert weak == "0"


def test_a_key_in_authorized_keys2_is_refused(host, published):
    """sshd reads .ssh/authorized_keys only: a second file cannot keep a key alive."""
    extra = "/home/deploy/.ssh/authorized_keys2"
    with open(OUTSIDER_KEY + ".pub", encoding="utf-8") as handle:
        key = handle.read().strip()
    host.run_expect([0], f"install -o deploy -g deploy -m 0600 /dev/null {extra} && echo '{key}' > {extra}")
    try:
        assert host.file(extra).contains("ssh-ed25519")
        result = ssh(published["ssh"], "deploy", OUTSIDER_KEY)
        assert result.returncode == 255 and "Permission denied" in result.stderr, result.stderr
    finally:
        host.run_expect([0], f"rm -f {extra}")


def test_a_keys_command_drop_in_opens_no_door(host, published):
    """A drop-in that adds an AuthorizedKeysCommand handing out the outsider's key
    for deploy: the role's pinned `AuthorizedKeysCommand none` comes first and wins."""
    with open(OUTSIDER_KEY + ".pub", encoding="utf-8") as handle:
        key = handle.read().strip()
    script, dropin = "/usr/local/bin/keys-for", "/etc/ssh/sshd_config.d/60-keys-command.conf"
    host.run_expect([0], f"printf '#!/bin/sh\\necho \"{key}\"\\n' > {script} && chmod 0755 {script}"
                         f" && printf 'AuthorizedKeysCommand {script}\\nAuthorizedKeysCommandUser nobody\\n' > {dropin}"
                         " && systemctl restart ssh.service")
    try:
        effective = host.check_output("sshd -T -C user=deploy,host=example.test,addr=192.0.2.7")
        assert "authorizedkeyscommand none" in effective.splitlines()
        result = ssh(published["ssh"], "deploy", OUTSIDER_KEY)
        assert result.returncode == 255 and "Permission denied" in result.stderr, result.stderr
    finally:
        host.run_expect([0], f"rm -f {script} {dropin} && systemctl restart ssh.service")
