"""The kernel.* and fs.* sysctls of the machine this runs on, as KEY=VALUE lines.

Run by prepare.yml on the controller (the machine running the test
containers, whose kernel they share) before converge, and imported by the
tests to compare afterwards. Counters and values the kernel changes on its
own are left out.
"""

import os
import sys

ROOTS = ("/proc/sys/kernel", "/proc/sys/fs")
VOLATILE = (
    "kernel.random.", "kernel.ns_last_pid", "kernel.pty.nr", "kernel.perf_event_max_sample_rate",
    "kernel.tainted", "fs.dentry-state", "fs.inode-nr", "fs.inode-state", "fs.file-nr", "fs.aio-nr",
    "fs.quota.", "fs.binfmt_misc.", "fs.fscache.",
)


def snapshot() -> dict[str, str]:
    values = {}
    for root in ROOTS:
        for directory, _, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                key = os.path.relpath(path, "/proc/sys").replace("/", ".")
                if key.startswith(VOLATILE):
                    continue
                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        values[key] = " ".join(handle.read().split())
                except OSError:
                    continue
    return values


def dump(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in sorted(values.items()))


def load(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


if __name__ == "__main__":
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        out.write(dump(snapshot()))
