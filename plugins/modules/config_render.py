#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_render
short_description: Render a device's configuration from its structured data with per-platform templates
version_added: 0.2.0
description:
  - Stage 2 of rendering. Renders the structured data built by M(netoss.core.config_data)
    with the Jinja templates of the device's platform - one directory per NetBox platform
    slug (C(frr), C(eos), C(ios)), one file per feature, rendered in the natural order of
    their names.
  - Rendering is strict. An undefined variable, a syntax error or a platform without
    templates fails this device, with the template file and line in the message.
  - Writes the configuration to O(dest) when it changed and returns it.
author: netoss contributors (!UNKNOWN)
options:
  data:
    description:
      - The device's structured data (one value of C(data) returned by M(netoss.core.config_data)).
    type: dict
    required: true
  templates:
    description:
      - Directory holding one sub-directory of templates per platform.
    type: path
    required: true
  platform:
    description:
      - Platform to render for; defaults to the C(platform) of O(data).
    type: str
  dest:
    description:
      - File to write the configuration to. Nothing is written when omitted.
    type: path
  user_secrets:
    description:
      - Password hashes of the local users, by user name (keep them in Ansible Vault, never in NetBox).
      - Templates render a user without a hash as a comment, never without a password.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Renders and reports whether O(dest) would change, without writing it.
  diff_mode:
    support: full
    description: Shows the change of O(dest).
"""

EXAMPLES = r"""
- name: Render the intended configuration
  netoss.core.config_render:
    data: "{{ config_data.data[inventory_hostname] }}"
    templates: "{{ role_path }}/templates"
    dest: "{{ playbook_dir }}/../.state/rendered/{{ inventory_hostname }}.cfg"
  delegate_to: localhost
  register: rendered
"""

RETURN = r"""
config:
  description: The rendered configuration.
  returned: success
  type: str
platform:
  description: The platform the templates were taken from.
  returned: success
  type: str
  sample: frr
lines:
  description: Number of lines rendered.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.config_render import RenderError, render
from ansible_collections.netoss.core.plugins.module_utils.files import write_if_changed


def main():
    module = AnsibleModule(
        argument_spec={
            "data": {"type": "dict", "required": True},
            "templates": {"type": "path", "required": True},
            "platform": {"type": "str"},
            "dest": {"type": "path"},
            "user_secrets": {"type": "dict", "default": {}, "no_log": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    platform = p["platform"] or p["data"].get("platform")
    name = p["data"].get("hostname", "device")
    try:
        config = render(p["data"], p["templates"], platform, p["user_secrets"])
    except RenderError as exc:
        module.fail_json(msg="%s: %s" % (name, exc))
    result = {"changed": False, "config": config, "platform": platform, "lines": len(config.splitlines())}
    if p["dest"]:
        changed, before = write_if_changed(p["dest"], config, module.check_mode)
        result["changed"] = changed
        if changed and module._diff:
            result["diff"] = {
                "before": before or "",
                "after": config,
                "before_header": p["dest"],
                "after_header": p["dest"],
            }
    result["msg"] = "%s: %d lines of %s configuration%s" % (
        name,
        result["lines"],
        platform,
        " (changed)" if result["changed"] else "",
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
