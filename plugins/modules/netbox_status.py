#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netbox_status
short_description: Check that NetBox answers and accepts the token
version_added: 0.1.0
description:
  - Calls NetBox's C(/api/status/) with the token and returns NetBox's version and status.
  - Fails with a message that says whether NetBox is unreachable or refused the token,
    so a playbook can stop before it writes anything.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
options: {}
requirements:
  - pynetbox
  - requests
attributes:
  check_mode:
    support: full
    description: Read-only; it behaves the same in check mode.
"""

EXAMPLES = r"""
- name: Stop early when NetBox is down or the token is wrong
  netoss.core.netbox_status:
    netbox_url: "{{ lookup('ansible.builtin.env', 'NETBOX_API') }}"
    netbox_token: "{{ lookup('ansible.builtin.env', 'NETBOX_TOKEN') }}"
"""

RETURN = r"""
netbox_version:
  description: The NetBox version.
  returned: success
  type: str
  sample: 4.7.3
status:
  description: The JSON of NetBox's /api/status/.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
    NetboxError,
    connect,
    settings_from_params,
)


def main():
    module = AnsibleModule(argument_spec=dict(NETBOX_ARG_SPEC), supports_check_mode=True)
    try:
        url, token, verify = settings_from_params(module.params)
        _api, status = connect(url, token, verify)
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except ImportError as exc:
        module.fail_json(msg=f"netoss.core.netbox_status needs pynetbox and requests: {exc}")
    version = status.get("netbox-version")
    module.exit_json(changed=False, netbox_version=version, status=status, msg=f"NetBox {version} at {url}: OK")


if __name__ == "__main__":
    main()
