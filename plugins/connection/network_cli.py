# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_cli that never trusts an SSH host on first use.

ansible.netcommon's network_cli lays the options of its SSH sub-connection over its own when it
hands them to the persistent connection. For paramiko those are the sub-connection's built-in
defaults, among them ``host_key_auto_add: true``, so ``host_key_auto_add = false`` in
ansible.cfg (or ANSIBLE_HOST_KEY_AUTO_ADD) never reaches the SSH client: a host with no known
key is trusted on first use and its key written to ~/.ssh/known_hosts (netcommon 8.7.1). This
plugin is that connection with its host key options applied to the SSH client, a default that
refuses unknown hosts, and a refusal that says how to pin the host's key.
"""

from __future__ import annotations

DOCUMENTATION = r"""
author: netoss contributors (!UNKNOWN)
name: network_cli
short_description: ansible.netcommon.network_cli that refuses SSH hosts with no known key
version_added: 0.1.0
description:
  - The CLI-over-SSH connection of C(ansible.netcommon.network_cli) (same options, same
    cliconf and terminal plugins, same modules), with SSH host keys checked the way its
    settings say.
  - A host whose key is not in C(~/.ssh/known_hosts) (or C(/etc/ssh/ssh_known_hosts)) is
    refused, with an error that names the host, the key it offered and how to pin it; nothing
    is written to C(known_hosts). A host whose key differs from its known one is refused.
  - C(ansible.netcommon.network_cli) 8.7.1 over paramiko trusts an unknown host on first use
    and records its key, whatever C(host_key_auto_add) says, because the paramiko
    sub-connection's defaults override the configured options. Here C(host_key_checking) and
    C(host_key_auto_add), as configured for this plugin, are what the SSH client (paramiko or
    libssh) applies.
  - Name it in C(ansible_connection); the netcommon modules that require network_cli accept it
    (they check the last part of the name).
requirements:
  - ansible.netcommon (this plugin extends its network_cli)
  - ansible-pylibssh if using I(ssh_type=libssh)
extends_documentation_fragment:
  - ansible.netcommon.connection_persistent
options:
  host_key_checking:
    description:
      - Check the host's SSH key against C(~/.ssh/known_hosts) (and
        C(/etc/ssh/ssh_known_hosts)). A key that differs from the known one is always refused;
        a host with no known key is refused unless I(host_key_auto_add) is set.
      - Set it to C(false) only for a device you reach over a path you trust.
    type: boolean
    default: true
    env:
      - name: ANSIBLE_HOST_KEY_CHECKING
      - name: ANSIBLE_SSH_HOST_KEY_CHECKING
    ini:
      - section: defaults
        key: host_key_checking
      - section: persistent_connection
        key: host_key_checking
    vars:
      - name: ansible_host_key_checking
      - name: ansible_ssh_host_key_checking
  host_key_auto_add:
    description:
      - When C(false) (the default here; C(ansible.netcommon.network_cli) has C(true)), a host
        with no known key is refused and the error tells how to pin its key.
      - When C(true), an unknown host's key is trusted on first use and added to
        C(~/.ssh/known_hosts). Anyone who answers on the host's address the first time is
        then trusted for good.
    type: boolean
    default: false
    ini:
      - section: paramiko_connection
        key: host_key_auto_add
    env:
      - name: ANSIBLE_HOST_KEY_AUTO_ADD
  # The options below are ansible.netcommon.network_cli 8.7.1's, unchanged
  # (tests/unit/test_network_cli.py checks that none is missing).
  host:
    description:
    - Specifies the remote device FQDN or IP address to establish the SSH connection
      to.
    default: inventory_hostname
    type: string
    vars:
    - name: inventory_hostname
    - name: ansible_host
  port:
    type: int
    description:
    - Specifies the port on the remote device that listens for connections when establishing
      the SSH connection.
    default: 22
    ini:
    - section: defaults
      key: remote_port
    env:
    - name: ANSIBLE_REMOTE_PORT
    vars:
    - name: ansible_port
  network_os:
    description:
    - Configures the device platform network operating system.  This value is used
      to load the correct terminal and cliconf plugins to communicate with the remote
      device.
    type: string
    vars:
    - name: ansible_network_os
  remote_user:
    description:
    - The username used to authenticate to the remote device when the SSH connection
      is first established.  If the remote_user is not specified, the connection will
      use the username of the logged in user.
    - Can be configured from the CLI via the C(--user) or C(-u) options.
    type: string
    ini:
    - section: defaults
      key: remote_user
    env:
    - name: ANSIBLE_REMOTE_USER
    vars:
    - name: ansible_user
  password:
    description:
    - Configures the user password used to authenticate to the remote device when
      first establishing the SSH connection.
    type: string
    vars:
    - name: ansible_password
    - name: ansible_ssh_pass
    - name: ansible_ssh_password
  private_key_file:
    description:
    - The private SSH key or certificate file used to authenticate to the remote device
      when first establishing the SSH connection.
    type: string
    ini:
    - section: defaults
      key: private_key_file
    env:
    - name: ANSIBLE_PRIVATE_KEY_FILE
    vars:
    - name: ansible_private_key_file
  become:
    type: boolean
    description:
    - The become option will instruct the CLI session to attempt privilege escalation
      on platforms that support it.  Normally this means transitioning from user mode
      to C(enable) mode in the CLI session. If become is set to True and the remote
      device does not support privilege escalation or the privilege has already been
      elevated, then this option is silently ignored.
    - Can be configured from the CLI via the C(--become) or C(-b) options.
    default: false
    ini:
    - section: privilege_escalation
      key: become
    env:
    - name: ANSIBLE_BECOME
    vars:
    - name: ansible_become
  become_errors:
    type: str
    description:
    - This option determines how privilege escalation failures are handled when
      I(become) is enabled.
    - When set to C(ignore), the errors are silently ignored.
      When set to C(warn), a warning message is displayed.
      The default option C(fail), triggers a failure and halts execution.
    vars:
    - name: ansible_network_become_errors
    default: fail
    choices: ["ignore", "warn", "fail"]
  terminal_errors:
    type: str
    description:
    - This option determines how failures while setting terminal parameters
      are handled.
    - When set to C(ignore), the errors are silently ignored.
      When set to C(warn), a warning message is displayed.
      The default option C(fail), triggers a failure and halts execution.
    vars:
    - name: ansible_network_terminal_errors
    default: fail
    choices: ["ignore", "warn", "fail"]
    version_added: 3.1.0
  become_method:
    description:
    - This option allows the become method to be specified in for handling privilege
      escalation.  Typically the become_method value is set to C(enable) but could
      be defined as other values.
    default: sudo
    type: string
    ini:
    - section: privilege_escalation
      key: become_method
    env:
    - name: ANSIBLE_BECOME_METHOD
    vars:
    - name: ansible_become_method
  persistent_buffer_read_timeout:
    type: float
    description:
    - Configures, in seconds, the amount of time to wait for the data to be read from
      Paramiko channel after the command prompt is matched. This timeout value ensures
      that command prompt matched is correct and there is no more data left to be
      received from remote host.
    default: 0.1
    ini:
    - section: persistent_connection
      key: buffer_read_timeout
    env:
    - name: ANSIBLE_PERSISTENT_BUFFER_READ_TIMEOUT
    vars:
    - name: ansible_buffer_read_timeout
  terminal_stdout_re:
    type: list
    elements: dict
    description:
    - A single regex pattern or a sequence of patterns along with optional flags to
      match the command prompt from the received response chunk. This option accepts
      C(pattern) and C(flags) keys. The value of C(pattern) is a python regex pattern
      to match the response and the value of C(flags) is the value accepted by I(flags)
      argument of I(re.compile) python method to control the way regex is matched
      with the response, for example I('re.I').
    vars:
    - name: ansible_terminal_stdout_re
  terminal_stderr_re:
    type: list
    elements: dict
    description:
    - This option provides the regex pattern and optional flags to match the error
      string from the received response chunk. This option accepts C(pattern) and
      C(flags) keys. The value of C(pattern) is a python regex pattern to match the
      response and the value of C(flags) is the value accepted by I(flags) argument
      of I(re.compile) python method to control the way regex is matched with the
      response, for example I('re.I').
    vars:
    - name: ansible_terminal_stderr_re
  terminal_initial_prompt:
    type: list
    elements: string
    description:
    - A single regex pattern or a sequence of patterns to evaluate the expected prompt
      at the time of initial login to the remote host.
    vars:
    - name: ansible_terminal_initial_prompt
  terminal_initial_answer:
    type: list
    elements: string
    description:
    - The answer to reply with if the C(terminal_initial_prompt) is matched. The value
      can be a single answer or a list of answers for multiple terminal_initial_prompt.
      In case the login menu has multiple prompts the sequence of the prompt and excepted
      answer should be in same order and the value of I(terminal_prompt_checkall)
      should be set to I(True) if all the values in C(terminal_initial_prompt) are
      expected to be matched and set to I(False) if any one login prompt is to be
      matched.
    vars:
    - name: ansible_terminal_initial_answer
  terminal_initial_prompt_checkall:
    type: boolean
    description:
    - By default the value is set to I(False) and any one of the prompts mentioned
      in C(terminal_initial_prompt) option is matched it won't check for other prompts.
      When set to I(True) it will check for all the prompts mentioned in C(terminal_initial_prompt)
      option in the given order and all the prompts should be received from remote
      host if not it will result in timeout.
    default: false
    vars:
    - name: ansible_terminal_initial_prompt_checkall
  terminal_inital_prompt_newline:
    type: boolean
    description:
    - This boolean flag, that when set to I(True) will send newline in the response
      if any of values in I(terminal_initial_prompt) is matched.
    default: true
    vars:
    - name: ansible_terminal_initial_prompt_newline
  network_cli_retries:
    description:
    - Number of attempts to connect to remote host. The delay time between the retires
      increases after every attempt by power of 2 in seconds till either the maximum
      attempts are exhausted or any of the C(persistent_command_timeout) or C(persistent_connect_timeout)
      timers are triggered.
    default: 3
    type: integer
    env:
    - name: ANSIBLE_NETWORK_CLI_RETRIES
    ini:
    - section: persistent_connection
      key: network_cli_retries
    vars:
    - name: ansible_network_cli_retries
  ssh_type:
    description:
      - The python package that will be used by the C(network_cli) connection plugin to
        create a SSH connection to remote host.
      - I(libssh) will use the ansible-pylibssh package, which needs to be installed in order to work.
      - I(paramiko) will instead use the paramiko package to manage the SSH connection.
        This option is deprecated and will be removed in a release after 2028-02-01.
        Migrate to I(libssh) by installing the ansible-pylibssh package.
      - I(auto) will use ansible-pylibssh if that package is installed, otherwise will fallback to paramiko.
    default: auto
    choices: ["libssh", "paramiko", "auto"]
    type: string
    env:
        - name: ANSIBLE_NETWORK_CLI_SSH_TYPE
    ini:
        - section: persistent_connection
          key: ssh_type
    vars:
    - name: ansible_network_cli_ssh_type
  single_user_mode:
    type: boolean
    default: false
    version_added: 2.0.0
    description:
    - This option enables caching of data fetched from the target for re-use.
      The cache is invalidated when the target device enters configuration mode.
    - Applicable only for platforms where this has been implemented.
    env:
    - name: ANSIBLE_NETWORK_SINGLE_USER_MODE
    vars:
    - name: ansible_network_single_user_mode
  proxy_command:
    default: ''
    description:
        - Proxy information for running the connection via a jumphost.
        - 'Also this plugin will scan C(ssh_args), C(ssh_extra_args) and
          C(ssh_common_args) from the C(ssh) plugin settings for proxy
          information if set, when using C(ssh_type=libssh).'
    type: string
    env:
        - name: ANSIBLE_PARAMIKO_PROXY_COMMAND
    ini:
        - section: paramiko_connection
          key: proxy_command
    vars:
        - name: ansible_paramiko_proxy_command
"""

EXAMPLES = r"""
# inventory (netoss: the platform's config context in NetBox, from the intent's platforms)
# pe1:
#   ansible_host: 198.18.0.13
#   ansible_network_os: netoss.core.frr
#   ansible_connection: netoss.core.network_cli

# Pin a device's key before the first run (a real device: check the fingerprint against the
# device's own, read from its console):
#   ssh-keyscan -t ed25519 198.18.0.13 >> ~/.ssh/known_hosts
# The netoss lab: `netoss lab trust` (its routers' pinned keys into ~/.ssh/known_hosts).

- name: Read the running configuration of a device with a known host key
  ansible.netcommon.cli_command:
    command: show running-config
"""

import os
import re

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.ansible.netcommon.plugins.connection.network_cli import Connection as NetworkCli

# The options of this plugin that the SSH sub-connection must apply as configured.
HOST_KEY_OPTIONS = ("host_key_checking", "host_key_auto_add")

# How paramiko's and libssh's host key policies (ansible.netcommon) refuse a host with no known
# key when they cannot ask: "paramiko: The authenticity of host '198.18.0.13' can't be
# established. The ssh-ed25519 key fingerprint is 3a5f.... Set host_key_auto_add=True ...".
_UNKNOWN_HOST = re.compile(
    r"The authenticity of host '(?P<host>[^']+)' can't be established[^\n]*?\.\s*"
    r"The (?P<key_type>\S+) key fingerprint is (?P<fingerprint>\S+?)\.?(?:\s|$)"
)


def unknown_host_refusal(message):
    """(host, key type, fingerprint) when ``message`` is an SSH library's refusal of a host with
    no known key, else None. ``host`` is the name known_hosts uses: ``addr`` on port 22,
    ``[addr]:port`` on another port."""
    found = _UNKNOWN_HOST.search(message)
    if found is None:
        return None
    return found.group("host"), found.group("key_type"), found.group("fingerprint")


def _readable_fingerprint(fingerprint):
    """paramiko gives the MD5 fingerprint as 32 hex digits: show it as ``ssh-keygen -l -E md5``
    does (MD5:3a:5f:...), so it can be compared."""
    if re.fullmatch(r"[0-9a-fA-F]{32}", fingerprint):
        pairs = [fingerprint[i : i + 2].lower() for i in range(0, 32, 2)]
        return "MD5:" + ":".join(pairs)
    return fingerprint


def unknown_host_message(host, key_type, fingerprint, known_hosts):
    """The error for a host with no known key: which host, what it offered, how to pin it."""
    bracketed = re.fullmatch(r"\[(?P<addr>[^\]]+)\]:(?P<port>\d+)", host)
    if bracketed:
        keyscan = "ssh-keyscan -p %s -t %s %s" % (bracketed.group("port"), key_type, bracketed.group("addr"))
    else:
        keyscan = "ssh-keyscan -t %s %s" % (key_type, host)
    return (
        "%s is not a known SSH host: %s has no key for it, and an unknown host is never trusted "
        "on first use (no login was attempted; nothing was added to known_hosts). It offered a "
        "%s key with fingerprint %s. Pin its key, then run again. The netoss lab: `netoss lab up` "
        "pins its routers' keys for the playbooks netoss runs, and `netoss lab trust` puts them in "
        "your ~/.ssh/known_hosts. A real device: take its key over a path you trust (its console, "
        "or `%s` from a trusted network, its fingerprint checked against the one the device "
        "shows), and add that line to %s."
        % (host, known_hosts, key_type, _readable_fingerprint(fingerprint), keyscan, known_hosts)
    )


class Connection(NetworkCli):
    """ansible.netcommon.network_cli whose SSH client applies this plugin's host key options."""

    transport = "netoss.core.network_cli"

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        # netcommon passes settings to its SSH sub-connection by option name, which matches
        # none of the configured host key settings (ansible.cfg, environment, ansible_* vars):
        # over paramiko the sub-connection keeps its built-in defaults (host_key_auto_add:
        # true), and get_options() lays them over the configured values when the controller
        # hands the options to the persistent connection, whose SSH client's host key policy
        # reads them from the sub-connection. Set the configured values there.
        for name in HOST_KEY_OPTIONS:
            self.ssh_type_conn.set_option(name, self.get_option(name))

    def _connect(self):
        try:
            return super()._connect()
        except AnsibleError as exc:
            refusal = unknown_host_refusal(to_text(exc))
            if refusal is None:
                raise
            known_hosts = os.path.expanduser("~/.ssh/known_hosts")
            raise AnsibleConnectionFailure(unknown_host_message(*refusal, known_hosts=known_hosts)) from None
