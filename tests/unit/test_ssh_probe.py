"""plugins/plugin_utils/ssh_probe.py: the probe's command lines and its judgement."""

import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ssh_probe", ROOT / "plugins/plugin_utils/ssh_probe.py")
probe = importlib.util.module_from_spec(_spec)
sys.modules["ssh_probe"] = probe  # dataclasses look their module up
_spec.loader.exec_module(probe)
Target, attempts, judge, transient = probe.Target, probe.attempts, probe.judge, probe.transient

TARGET = Target(host="203.0.113.5", port=2222, user="deploy", private_key="/keys/id",
                ssh_args="-o UserKnownHostsFile='/tmp/known hosts' -o StrictHostKeyChecking=accept-new")


def test_each_attempt_is_a_fresh_non_interactive_connection():
    for name, command in attempts(TARGET).items():
        assert command[0] == "ssh" and command[-1] == "true", name
        for option in ("BatchMode=yes", "ControlMaster=no", "ControlPath=none"):
            assert option in command, (name, option)
        assert command[command.index("-p") + 1] == "2222"
        # Quoted ssh_args stay one argument.
        assert "UserKnownHostsFile=/tmp/known hosts" in command


def test_the_attempts_aim_at_the_right_accounts():
    commands = attempts(TARGET)
    assert commands["admin_key"][-2] == "deploy@203.0.113.5"
    assert commands["root_key"][-2] == "root@203.0.113.5"
    assert "PubkeyAuthentication=no" in commands["password"]
    assert "PreferredAuthentications=password,keyboard-interactive" in commands["password"]


def test_no_key_means_the_clients_own_keys():
    command = attempts(Target(host="h", port=22, user="u"))["admin_key"]
    assert "-i" not in command and "IdentitiesOnly=yes" not in command


@pytest.mark.parametrize("name, returncode, output, verdict", [
    ("admin_key", 0, "", None),
    ("admin_key", 255, "deploy@h: Permission denied (publickey).", "the admin's key login failed"),
    ("password", 255, "deploy@h: Permission denied (publickey).", None),
    ("password", 255, "deploy@h: Permission denied (publickey,password).", "sshd offers publickey,password"),
    ("password", 0, "", "the password attempt logged in"),
    ("root_key", 255, "root@h: Permission denied (publickey).", None),
    ("root_key", 0, "", "the root_key attempt logged in"),
    ("root_key", 255, "ssh: connect to host h port 22: No route to host", "was not answered by sshd"),
])
def test_judge(name, returncode, output, verdict):
    result = judge(name, returncode, output)
    if verdict is None:
        assert result is None
    else:
        assert verdict in result


def test_penalties_and_rate_limits_are_transient():
    assert transient("Connection closed by 10.0.0.1 port 22: Not allowed at this time")
    assert transient("ssh: connect to host h port 22: Connection refused")
    assert not transient("deploy@h: Permission denied (publickey).")
