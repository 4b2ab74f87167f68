"""containers.podman.podman with pipelining, for the molecule test bed only.

The collection's plugin runs `podman exec` without `-i`, so a module cannot be
fed on stdin and it declares pipelining unsupported. Every module then costs
four `podman exec` calls (make a temporary directory, make the copied module
executable, run it, remove the directory). With `-i` the module goes in on
stdin as it does over SSH with this project's ansible.cfg (pipelining = true),
in one call. That is also how a real host runs each task, `become_user` to an
unprivileged user included: without pipelining Ansible must hand the
temporary module file to that user, a path production never takes.

Files (copy, template) still go in through the container's mount point, as the
collection's plugin does. Nothing in site.yml or the roles uses this plugin;
.config/molecule/config.yml selects it for the scenarios' containers.
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection import podman

# A literal, as ansible-doc reads it without importing; the options are the
# collection plugin's that its code reads, and pipelining's own.
DOCUMENTATION = """
name: testbed_podman
short_description: containers.podman.podman with pipelining (molecule test bed only)
description:
  - Runs commands in an existing podman container with C(podman exec --interactive), so modules can be
    pipelined on stdin. Files are copied through the container's mount point.
extends_documentation_fragment:
  - connection_pipelining
options:
  remote_addr:
    description: The container's name or ID.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
      - name: ansible_podman_host
  remote_user:
    description: The user commands run as inside the container.
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Extra arguments to pass to the podman command line.
    default: ''
    vars:
      - name: ansible_podman_extra_args
  podman_executable:
    description: The podman executable.
    default: podman
    vars:
      - name: ansible_podman_executable
"""


class Connection(podman.Connection):
    """The collection's podman connection, with stdin attached to `podman exec`."""

    transport = "testbed_podman"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        # The parent's own exec_command would run podman without -i: skip it,
        # keep ConnectionBase's bookkeeping.
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        return self._podman(self.exec_arguments(), shlex.split(to_native(cmd, errors="surrogate_or_strict")),
                            in_data)

    def exec_arguments(self) -> list:
        """podman's arguments before the container's name: stdin kept open, the user if one is set."""
        arguments = ["exec", "--interactive"]
        if self.user:
            arguments += ["--user", self.user]
        return arguments
