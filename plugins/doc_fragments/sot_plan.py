# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planning options of the modules that plan the intent against NetBox (sot_plan, sot_apply):
module_utils/sot_plan.PLAN_ARG_SPEC."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  managed_tag:
    description:
      - Slug of the tag that marks the objects netoss owns.
    type: str
    default: netoss-managed
  prune:
    description:
      - Plan (M(netoss.core.sot_apply) also applies) the deletion of the managed objects that the
        intent no longer has.
    type: bool
    default: true
  prune_limit:
    description:
      - The largest share (in percent) of the managed objects in NetBox that a plan may delete
        without O(confirm_prune). A plan deleting more fails, in check mode too, naming what
        it would delete, because that is what applying the wrong intent looks like (another
        network's, an empty directory, the wrong branch).
    type: int
    default: 50
  confirm_prune:
    description:
      - Allow a plan to delete more than O(prune_limit) percent of the managed objects.
    type: bool
    default: false
  incremental:
    description:
      - Keep what the plan read of NetBox in O(cache_dir), and on the next run read only the objects
        NetBox's change log says changed since (a run with nothing to do then reads one change log
        entry instead of every managed object). A deletion, a rename (of anything other objects
        name this one by), a change log that no longer reaches back, more than 2000 changes, or a
        token that may not read the change log make it read everything, as does a NetBox branch.
      - Objects written to NetBox's database other than through its API or UI (no change log entry)
        are not seen until something else changes; set V(false) after such a write.
    type: bool
    default: true
  cache_dir:
    description:
      - Where O(incremental) keeps the records, one private file (0600) per NetBox URL and managed tag.
    type: path
    default: ~/.cache/netoss/sot-plan
"""
