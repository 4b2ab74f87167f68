"""`ufw limit` on SSH: rapid new connections from one source are refused.

UFW's limit drops a source's 6th new connection within 30 s. All test
traffic comes from one address (podman's NAT), so the count is reset in
the kernel's `recent` list before and after the test, keeping it
independent of the other tests.
"""

import socket
import time

RECENT = "/proc/net/xt_recent/DEFAULT"


def attempt(port):
    """'banner' if sshd answered, 'refused' or 'timeout' otherwise."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return "banner" if sock.recv(64).startswith(b"SSH-2.0-") else "closed"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"


def test_rapid_ssh_connections_are_rate_limited(host, published):
    port = int(published["ssh"])
    host.check_output(f"echo / > {RECENT}")
    try:
        results = [attempt(port) for _ in range(10)]
        assert results[:5] == ["banner"] * 5, results
        assert results[5:] and all(r != "banner" for r in results[5:]), results
    finally:
        host.check_output(f"echo / > {RECENT}")
    time.sleep(1)
    assert attempt(port) == "banner"
