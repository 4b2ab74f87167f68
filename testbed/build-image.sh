#!/usr/bin/env bash
# Build a systemd-enabled Debian test-host image from Debian's archive.
#
# Usage: testbed/build-image.sh SUITE [--force]     (SUITE: bookworm | trixie)
#
# No container registry is reachable from these machines, so the image is made
# with debootstrap and imported into podman. The image is cached: it is rebuilt
# only when missing, when this recipe changed (label testbed.recipe), or with
# --force. A build that fails midway leaves no image behind: the root file
# system is assembled in a temporary directory and imported under a temporary
# tag, and only a complete import is tagged with the final name.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=testbed/env.sh
. "$here/env.sh"

suite=${1:-}
force=${2:-}
case "$suite" in
  bookworm | trixie) ;;
  *) echo "usage: $0 bookworm|trixie [--force]" >&2; exit 2 ;;
esac

image="$TESTBED_IMAGE_REPO:$suite"
recipe=$(cat "$0" "$here/image-setup.sh" | sha256sum | cut -c1-16)

if [ "$force" != "--force" ] && podman image exists "$image"; then
  have=$(podman image inspect --format '{{ index .Labels "testbed.recipe" }}' "$image" 2>/dev/null || true)
  if [ "$have" = "$recipe" ]; then
    echo "image $image is up to date (recipe $recipe)"
    exit 0
  fi
  echo "image $image was built from another recipe ($have), rebuilding"
fi

mirror=${TESTBED_MIRROR:-http://deb.debian.org/debian}
packages=python3,systemd,systemd-sysv,dbus,sudo,iproute2,ca-certificates,openssh-server,procps,less

work=$(mktemp -d /var/tmp/testbed-build.XXXXXX)
tmp_tag="$TESTBED_IMAGE_REPO:building-$suite-$$"
cleanup() {
  rc=$?
  # Unmount anything debootstrap left mounted before removing the tree.
  for m in $(awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
  podman image rm -f "$tmp_tag" >/dev/null 2>&1 || true
  [ $rc -eq 0 ] || echo "image build for $suite FAILED; nothing was tagged as $image" >&2
  exit $rc
}
trap cleanup EXIT INT TERM

echo "building $image from $mirror (this takes about a minute)"
debootstrap --variant=minbase --include="$packages" "$suite" "$work/root" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# The image trusts what the host trusts (an intercepting proxy's CA, say):
# copy in the host's certificates the image does not already have, as local
# CAs, so update-ca-certificates in the image keeps them.
python3 "$here/extra_cas.py" /etc/ssl/certs/ca-certificates.crt \
  "$work/root/etc/ssl/certs/ca-certificates.crt" "$work/root/usr/local/share/ca-certificates"

cp "$here/image-setup.sh" "$work/root/tmp/image-setup.sh"
chroot "$work/root" /bin/sh /tmp/image-setup.sh "$suite" "$mirror"
rm -f "$work/root/tmp/image-setup.sh"

tar --numeric-owner --xattrs -C "$work/root" -c . |
  podman import --quiet \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL testbed.recipe=$recipe" \
    --change "LABEL testbed.suite=$suite" \
    - "$tmp_tag" >/dev/null
podman tag "$tmp_tag" "$image"
podman image rm "$tmp_tag" >/dev/null 2>&1 || podman untag "$tmp_tag" >/dev/null 2>&1 || true
echo "built $image (recipe $recipe)"
