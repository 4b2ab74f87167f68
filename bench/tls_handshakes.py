"""TLS connections per second against one server, with or without session resumption.

Runs inside the bench host (its own python3, standard library only); bin/bench
copies it there and imports it for arguments(), the command line it passes.
Each connection: TCP connect, TLS handshake (SNI set; full, or resuming the
previous connection's session), one HEAD request with "Connection: close",
read to EOF. The request is there in both modes so that a TLS 1.3 session
ticket (sent after the handshake) is read and can be resumed; it is the same
in both modes, so the ratio is the handshake's. Prints one JSON object.

    python3 tls_handshakes.py --host 127.0.0.1 --port 443 --sni example.test \
        --path /static/x.css --seconds 10 --mode new|reuse --tls 1.3|1.2 --procs 2

--procs client processes run side by side (one Python client is slower than
the server's handshakes); the counts are summed.
"""

import argparse
import json
import multiprocessing
import socket
import ssl
import time


def one(ctx, args, session):
    with socket.create_connection((args.host, args.port), timeout=5) as raw:
        # As browsers do: without it, a resumed TLS 1.2 handshake's last flight and the request
        # meet Nagle and the server's delayed ACK (about 40 ms per connection).
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname=args.sni, session=session) as tls:
            tls.sendall(
                f"HEAD {args.path} HTTP/1.1\r\nHost: {args.sni}\r\nConnection: close\r\n\r\n".encode()
            )
            status = tls.recv(64)
            while tls.recv(65536):
                pass
            return tls.session, tls.session_reused, tls.version(), status.split(b" ", 2)[1:2]


def client(args):
    """One client process: connections for args.seconds; returns its counts."""
    # Throughput of the server's handshakes, not of certificate checks here.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    version = ssl.TLSVersion.TLSv1_2 if args.tls == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = version

    session, _, _, _ = one(ctx, args, None)  # warm-up, and the first session to resume
    count = resumed = 0
    statuses = {}
    protocol = None
    start = time.monotonic()
    deadline = start + args.seconds
    while time.monotonic() < deadline:
        new_session, reused, protocol, status = one(ctx, args, session if args.mode == "reuse" else None)
        count += 1
        resumed += bool(reused)
        key = status[0].decode() if status else "?"
        statuses[key] = statuses.get(key, 0) + 1
        if args.mode == "reuse" and new_session is not None:
            session = new_session
    return count, resumed, time.monotonic() - start, protocol, statuses


def build_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--sni", required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--mode", choices=["new", "reuse"], default="new")
    parser.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    parser.add_argument("--procs", type=int, default=2)
    return parser


def arguments(sni, path, seconds, mode, tls, procs=2, host="127.0.0.1", port=443):
    """The command line for one run, as bin/bench passes it to this script inside the host."""
    return ["--host", host, "--port", str(port), "--sni", sni, "--path", path, "--seconds", str(seconds),
            "--mode", mode, "--tls", tls, "--procs", str(procs)]


def main(argv=None):
    args = build_parser().parse_args(argv)

    with multiprocessing.Pool(args.procs) as pool:
        results = pool.map(client, [args] * args.procs)
    count = sum(r[0] for r in results)
    seconds = max(r[2] for r in results)
    statuses = {}
    for r in results:
        for key, value in r[4].items():
            statuses[key] = statuses.get(key, 0) + value
    print(json.dumps({
        "mode": args.mode,
        "tls": args.tls,
        "procs": args.procs,
        "connections": count,
        "resumed": sum(r[1] for r in results),
        "seconds": round(seconds, 2),
        "per_second": round(count / seconds, 1),
        "protocol": results[0][3],
        "statuses": statuses,
    }))


if __name__ == "__main__":
    main()
