# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every netoss.core module that talks to the netoss portal."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  portal_url:
    description:
      - URL of the netoss portal, for example C(http://127.0.0.1:17081).
      - Defaults to the E(PORTAL_URL) environment variable, as printed by C(netoss env)
        (portal jobs have it set).
    type: str
    required: false
  portal_token:
    description:
      - A portal API token of an account with the operator role.
      - Defaults to the E(PORTAL_TOKEN) environment variable.
    type: str
    required: false
"""
