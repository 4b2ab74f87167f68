#!/bin/sh
# Runs inside the freshly debootstrapped root (chroot) to make it behave like
# a fresh Debian cloud host booted as a systemd container.
set -eu
suite=$1
mirror=$2

cat >/etc/apt/sources.list <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF

update-ca-certificates >/dev/null 2>&1

# Every container from this image must get its own SSH host keys and machine
# id, as cloud-init gives a real host: none are baked into the image.
rm -f /etc/ssh/ssh_host_*
: >/etc/machine-id
cat >/etc/systemd/system/testbed-ssh-keygen.service <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot (test bed)
Before=ssh.service ssh.socket
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/testbed-ssh-keygen.service \
  /etc/systemd/system/multi-user.target.wants/testbed-ssh-keygen.service

# Units that only make sense on real hardware or a real console fail in a
# container and would leave systemd "degraded".
for unit in systemd-modules-load.service getty@tty1.service console-getty.service \
  systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
  sys-kernel-tracing.mount systemd-firstboot.service; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
