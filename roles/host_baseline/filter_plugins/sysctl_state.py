"""Filters of the host_baseline role: which sysctl settings to apply, in what order.

Pure functions (no Ansible state) so tests/unit/test_host_baseline_filters.py
can test them without a host.
"""

# Writing IPv4 forwarding (ip_forward or conf.all.forwarding) makes the kernel
# rewrite conf.all.accept_redirects to the opposite value (devinet.c,
# inet_forward_change). A host or container that starts with forwarding on
# therefore ends up accepting redirects after forwarding is turned off, unless
# accept_redirects is written again after it.
FORWARDING_KEYS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding")
RESET_BY_FORWARDING = ("net.ipv4.conf.all.accept_redirects",)


def _normalise(value):
    """A sysctl value as `sysctl` prints it: fields separated by one space."""
    return " ".join(str(value).split())


def sysctl_running(lines):
    """{key: value} from `sysctl -e KEY...` output (`key = value` lines)."""
    running = {}
    for line in lines or []:
        key, sep, value = str(line).partition(" = ")
        if sep:
            running[key.strip()] = _normalise(value)
    return running


def sysctl_pending(settings, lines, prefixes=None):
    """`key=value` arguments for `sysctl -w`, forwarding first, for the settings that differ.

    settings: {key: value} wanted. lines: `sysctl -e` output for those keys;
    a key absent from it is unknown to this kernel (or namespace) and left
    out. prefixes: when given, only keys whose first part is among them
    (a container applies only its own network namespace's net.* keys).
    """
    running = sysctl_running(lines)
    wanted = {
        key: _normalise(value)
        for key, value in (settings or {}).items()
        if key in running and (prefixes is None or key.split(".")[0] in prefixes)
    }
    differ = [key for key, value in wanted.items() if running[key] != value]
    first = [key for key in differ if key in FORWARDING_KEYS]
    rest = [key for key in differ if key not in FORWARDING_KEYS]
    if first:
        rest += [key for key in RESET_BY_FORWARDING if key in wanted and key not in rest]
    return [f"{key}={wanted[key]}" for key in first + rest]


def sysctl_drift(settings, lines, prefixes=None):
    """{observed, expected}: the running and the wanted value of each setting that differs
    (the same selection as sysctl_pending: keys the kernel knows, within prefixes)."""
    running = sysctl_running(lines)
    pending = [entry.split("=", 1) for entry in sysctl_pending(settings, lines, prefixes)]
    return {"observed": {key: running[key] for key, value in pending if running[key] != value},
            "expected": {key: value for key, value in pending if running[key] != value}}


class FilterModule:
    """Filters of the host_baseline role."""

    def filters(self):
        return {"host_baseline_sysctl_pending": sysctl_pending, "host_baseline_sysctl_drift": sysctl_drift}
