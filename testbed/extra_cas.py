"""Copy the CA certificates the host trusts but an image does not into the image.

Usage: extra_cas.py HOST_BUNDLE IMAGE_BUNDLE DEST_DIR

Each certificate of HOST_BUNDLE that is missing from IMAGE_BUNDLE is written to
DEST_DIR as its own ``host-N.crt`` file (the layout update-ca-certificates
expects for local CAs), so the image keeps trusting them after any later
``update-ca-certificates``. Prints how many were added.
"""

import re
import sys
from pathlib import Path

PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def certificates(text: str) -> list[str]:
    """Return the certificates of a PEM bundle, re-wrapped canonically."""
    blocks = []
    for body in PEM.findall(text):
        b64 = "".join(body.split())
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        blocks.append("\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----"]))
    return blocks


def missing(host_bundle: str, image_bundle: str) -> list[str]:
    """Certificates in host_bundle that image_bundle lacks, in host order."""
    have = set(certificates(image_bundle))
    return [cert for cert in certificates(host_bundle) if cert not in have]


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    host, image, dest = Path(argv[1]), Path(argv[2]), Path(argv[3])
    image_text = image.read_text() if image.exists() else ""
    extra = missing(host.read_text(), image_text)
    dest.mkdir(parents=True, exist_ok=True)
    for number, cert in enumerate(extra):
        (dest / f"host-{number}.crt").write_text(cert + "\n")
    print(f"{len(extra)} host CA certificate(s) added to the image")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
