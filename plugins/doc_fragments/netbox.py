# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every netoss.core module that talks to NetBox."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  netbox_url:
    description:
      - URL of the NetBox instance, for example C(http://127.0.0.1:17080).
      - Defaults to the E(NETBOX_API) environment variable, as printed by C(netoss env).
    type: str
    required: false
  netbox_token:
    description:
      - NetBox API token (v2 tokens look like C(nbt_<key>.<secret>)).
      - Defaults to the E(NETBOX_TOKEN) environment variable.
    type: str
    required: false
  validate_certs:
    description:
      - Verify the TLS certificate of an https NetBox.
    type: bool
    default: true
  netbox_branch:
    description:
      - Work inside this NetBox branch (its schema id) instead of main; needs NetBox Branching
        (the plugin C(netbox_branching)), and the branch ready. Every read and write goes to the
        branch; the module fails when NetBox does not run the plugin, rather than write to main.
      - Defaults to the E(NETBOX_BRANCH) environment variable (C(netoss gitops) sets it); unset is main.
    type: str
    required: false
"""
