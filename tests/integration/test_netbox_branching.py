"""NetBox Branching on the test stack's real NetBox, through netoss's one client
(netoss.data.netbox): the proposed state GitOps plans in, merges and reverts.

A branch holds a change apart from main until merged; its change list says what it changes;
a merge puts it in main and a revert takes it back; a merge over a field main changed since is
refused with the conflict named; the stack's writer account may do all that, its reader none.
"""

from __future__ import annotations

import uuid

import pytest

from netoss.data.netbox import BranchConflict, NetBox, NetboxError

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(stack) -> NetBox:
    return NetBox.from_stack(stack, "writer", timeout=60)


@pytest.fixture
def branch(writer):
    """A new branch, provisioned; deleted at the end."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    created = writer.create_branch(name, "netoss integration test")
    try:
        yield writer.wait_branch(created["id"], timeout=300)
    finally:
        writer.delete_branch(created["id"])


def _tags(nb: NetBox, slug: str) -> list[dict]:
    return nb.get("extras/tags", {"slug": slug})["results"]


def test_a_branch_holds_a_change_apart_until_merged_and_a_revert_takes_it_back(writer, branch):
    slug = f"netoss-{branch['schema_id']}"
    inside = writer.in_branch(branch["schema_id"])
    inside.api().extras.tags.create(name=slug, slug=slug, description="proposed")  # pynetbox, in the branch
    assert [t["description"] for t in _tags(inside, slug)] == ["proposed"]
    assert _tags(writer, slug) == []  # main does not see it
    changes = writer.branch_changes(branch["id"])
    assert [(c["object_type"], c["action"]["value"], c["object_repr"]) for c in changes] == [
        ("extras.tag", "create", slug)
    ]
    dry = writer.branch_action(branch["id"], "merge", commit=False)  # NetBox Branching's dry run
    assert dry["status"]["value"] == "completed" and _tags(writer, slug) == []
    writer.branch_action(branch["id"], "merge")
    assert [t["description"] for t in _tags(writer, slug)] == ["proposed"]
    assert writer.wait_branch(branch["id"], statuses=("merged",), timeout=10)["status"]["value"] == "merged"
    writer.branch_action(branch["id"], "revert")
    assert _tags(writer, slug) == []


def test_a_merge_over_a_field_main_changed_since_is_refused_naming_it(writer, branch):
    slug = f"netoss-{branch['schema_id']}"
    tag = writer.api().extras.tags.create(name=slug, slug=slug, description="before")  # in main
    try:
        writer.branch_action(branch["id"], "sync")  # the branch now has the tag
        inside = writer.in_branch(branch["schema_id"])
        inside.api().extras.tags.get(tag.id).update({"description": "from the branch"})
        writer.api().extras.tags.get(tag.id).update({"description": "by hand in main"})
        with pytest.raises(BranchConflict) as refused:
            writer.branch_action(branch["id"], "merge")
        assert f"extras.tag {tag.id} ({slug}): description" in str(refused.value)
        assert refused.value.conflicts[0]["conflicting_data"]["branch"] == {"description": "from the branch"}
        assert [t["description"] for t in _tags(writer, slug)] == ["by hand in main"]  # nothing merged
    finally:
        writer.api().extras.tags.get(tag.id).delete()


def test_only_the_writer_account_may_branch(stack, writer):
    reader = NetBox.from_stack(stack, "reader")
    with pytest.raises(NetboxError, match="403"):
        reader.create_branch(f"test-{uuid.uuid4().hex[:10]}")
    assert isinstance(reader.branches(), list)  # it may look
    with pytest.raises(ValueError, match="schema id"):
        writer.in_branch("x; DROP")
