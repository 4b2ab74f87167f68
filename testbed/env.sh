# Sourced by every script that calls podman for this project.
# shellcheck shell=bash
# The machine's podman needs runc and modest rlimits (see testbed/containers.conf);
# CONTAINERS_CONF applies that to this project's podman calls only.
TESTBED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="$TESTBED_DIR/containers.conf"
export TESTBED_IMAGE_REPO=${TESTBED_IMAGE_REPO:-localhost/hardening-testbed}
