"""The app port is open to the web host and to nobody else; web ports to all."""

import re

import pytest

testinfra_hosts = ["ansible://ufw_fleet-web", "ansible://ufw_fleet-other"]


def address(host, name):
    """The fleet address of another container, from the inventory's facts."""
    return host.backend.run_local(
        "podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' " + name
    ).stdout.strip()


def reach(host, ip, port):
    """True if an HTTP GET from host to ip:port gets an answer within 4 s."""
    code = f"import urllib.request as u; u.urlopen('http://{ip}:{port}/', timeout=4)"
    return host.run(f'python3 -c "{code}"').rc == 0


def test_app_port_only_from_web(host):
    app = address(host, "ufw_fleet-app")
    expected = host.backend.get_hostname() == "ufw_fleet-web"
    assert reach(host, app, 8000) is expected


def test_control_other_reaches_app_ssh_and_web_ports(host):
    """Control: the network path works, only the app port's rule differs."""
    app = address(host, "ufw_fleet-app")
    web = address(host, "ufw_fleet-web")
    assert host.run(f"timeout 5 bash -c 'exec 3<>/dev/tcp/{app}/22'").rc == 0
    if host.backend.get_hostname() != "ufw_fleet-web":
        assert reach(host, web, 80) and reach(host, web, 443)


@pytest.mark.parametrize("name", ["ufw_fleet-app"])
def test_app_rule_names_the_web_host(host, name):
    if host.backend.get_hostname() != "ufw_fleet-web":
        pytest.skip("checked once")
    web = host.interface("eth0").addresses[0]
    rules = host.backend.run_local(f"podman exec {name} ufw status").stdout
    assert re.search(rf"^8000/tcp +ALLOW +{re.escape(web)} +# managed:ufw-role app$", rules, re.M), rules
    assert rules.count("8000/tcp") == 1, rules
