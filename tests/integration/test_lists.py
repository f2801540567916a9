"""The paged lists against a real NetBox (the test stack with the demo intent synced, plus
circuits made as service orders make them, whose IDs contain one another):

- TMF638: the service inventory read in bulk is exactly what describing each circuit on its
  own gives (the per-circuit reads it replaced), in a handful of HTTP requests to NetBox rather
  than several per circuit; the API's pages add up to the list, X-Total-Count is the number of
  circuits that match, and each filter (state, customer, service) selects what filtering the
  whole list selects.
- The launch form's device search (/api/v1/devices) answers what NetBox's own filters answer,
  and a launch that gives a filter resolves it to the devices NetBox has for it.

Names come from NetBox (the test reads them), not from the demo."""

from __future__ import annotations

import pytest

from ansible_collections.netoss.core.plugins.module_utils.service_inventory import describe, list_services
from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import NetboxView
from netoss.domain.provisioning import inventory

pytestmark = pytest.mark.integration

SERVICES = "/tmf-api/serviceInventory/v4/service"
EXTRA = ("LISTS-1", "LISTS-10", "LISTS-11")  # LISTS-1 is in the other two: NetBox's loose filter mixes them


@pytest.fixture(scope="module")
def circuits(nb, demo_synced):
    """The intent's circuits and three more, made as service orders make them: a catalog
    service, prefixes and addresses carrying the circuit's ID; all of the first customer."""
    first = next(iter(nb.circuits.circuits.all()))
    made = []
    try:
        for n, cid in enumerate(EXTRA, start=1):
            c = nb.circuits.circuits.create(
                cid=cid, provider=first.provider.id, type=first.type.id, tenant=first.tenant.id, status="planned",
                custom_fields={"netoss_service": "lists-test", "netoss_max_prefix": 5},
            )  # fmt: skip
            made.append(c)
            made.append(nb.ipam.prefixes.create(prefix=f"100.64.{n}.0/29", tenant=first.tenant.id,
                                                custom_fields={"netoss_circuit": cid}))  # fmt: skip
            made.append(nb.ipam.ip_addresses.create(address=f"100.64.{n}.1/29", custom_fields={"netoss_circuit": cid}))
        yield [c.cid for c in nb.circuits.circuits.all()]
    finally:
        for record in reversed(made):
            record.delete()


class Requests:
    """Counts the HTTP requests a pynetbox API makes."""

    def __init__(self, api):
        self.n = 0
        api.http_session.hooks["response"].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.n += 1


def _api(stack):
    import pynetbox

    return pynetbox.api(stack.netbox_url, token=stack.netbox_token())


def test_the_bulk_inventory_is_what_each_circuit_described_gives(stack, circuits):
    one_by_one = _api(stack)
    counted = Requests(one_by_one)
    reference = [describe(NetboxView(one_by_one), cid) for cid in circuits]
    per_circuit = counted.n
    bulk = _api(stack)
    counted = Requests(bulk)
    assert list_services(NetboxView(bulk)) == reference
    assert counted.n <= 12 < 3 * len(circuits) <= per_circuit  # the page, then 3 rounds of reads
    own = {s["id"]: [r["name"] for r in s["resources"] if r["type"].startswith("ipam.")] for s in reference}
    assert own["LISTS-1"] == ["100.64.1.0/29", "100.64.1.1/29"]  # not LISTS-10's nor LISTS-11's


def _comparable(service: dict) -> dict:
    return {
        k: service[k] for k in ("id", "state", "serviceCharacteristic", "supportingResource", "relatedParty", "place")
    }


def _specification(service: dict) -> str | None:
    return (service.get("serviceSpecification") or {}).get("name")


def _listed(portal_api, stack, query: str, limit: int):
    ids, totals, offset = [], set(), 0
    for _ in range(100):
        resp = portal_api.get(f"{stack.portal_url}{SERVICES}?{query}&limit={limit}&offset={offset}", timeout=60)
        assert resp.status_code == 200, resp.text
        totals.add(int(resp.headers["X-Total-Count"]))
        ids += resp.json()
        if len(resp.json()) < limit:
            return ids, totals
        offset += limit
    raise AssertionError("no last page")


def test_the_tmf638_pages_and_filters_add_up(stack, portal_api, circuits):
    reference = [describe(NetboxView(_api(stack)), cid) for cid in circuits]
    everything, totals = _listed(portal_api, stack, "", 1000)
    assert totals == {len(circuits)}
    expected = [_comparable(inventory.service_json(s, inventory.Faults())) for s in reference]
    assert [_comparable(s) for s in everything] == expected
    paged, totals = _listed(portal_api, stack, "", 2)
    assert [s["id"] for s in paged] == [s["id"] for s in everything] and totals == {len(circuits)}
    customer = everything[0]["relatedParty"][0]["name"]
    for query, keep in (
        ("state=designed", lambda s: s["state"] == "designed"),
        ("state=active", lambda s: s["state"] == "active"),
        ("state=inactive", lambda s: s["state"] == "inactive"),
        (f"relatedParty.name={customer}", lambda s: any(p["name"] == customer for p in s["relatedParty"])),
        ("serviceSpecification.name=lists-test", lambda s: _specification(s) == "lists-test"),
        ("serviceSpecification.name=lists", lambda s: False),  # NetBox's filter contains it: narrowed exactly
        ("relatedParty.name=Nobody+at+all", lambda s: False),
    ):  # fmt: skip
        want = [s["id"] for s in everything if keep(s)]
        got, totals = _listed(portal_api, stack, query, 2)
        assert [s["id"] for s in got] == want and totals == {len(want)}, query
    bad = portal_api.get(f"{stack.portal_url}{SERVICES}?offset=-1", timeout=30)
    assert bad.status_code == 400 and bad.json()["error"].startswith("offset")


def test_the_device_search_answers_what_netbox_does(stack, portal_api, nb, demo_synced):
    url = f"{stack.portal_url}/api/v1/devices"
    everything = sorted(d.name for d in nb.dcim.devices.all())
    resp = portal_api.get(f"{url}?limit=500", timeout=30)
    assert [d["name"] for d in resp.json()] == everything and resp.headers["X-Total-Count"] == str(len(everything))
    role = next(iter(nb.dcim.devices.all())).role.slug
    site = next(iter(nb.dcim.devices.all())).site.slug
    want = sorted(d.name for d in nb.dcim.devices.filter(role=role, site=site))
    page = portal_api.get(f"{url}?role={role}&site={site}&limit=1&offset=0", timeout=30)
    assert [d["name"] for d in page.json()] == want[:1] and page.headers["X-Total-Count"] == str(len(want))
    part = everything[-1][1:3]
    found = portal_api.get(f"{url}?q={part}", timeout=30).json()
    assert [d["name"] for d in found] == [n for n in everything if part.lower() in n.lower()]


def test_a_launch_for_all_matching_devices(stack, portal_api, nb, demo_synced):
    role = next(iter(nb.dcim.devices.all())).role.slug
    want = sorted(d.name for d in nb.dcim.devices.filter(role=role))
    body = {"template": "backup", "parameters": {"devices": {"match": {"role": role}}}}
    resp = portal_api.post(f"{stack.portal_url}/api/v1/jobs", json=body, timeout=60)
    assert resp.status_code == 202, resp.text
    job = resp.json()
    portal_api.post(f"{stack.portal_url}/api/v1/jobs/{job['id']}/cancel", json={}, timeout=30)
    assert job["limit"] == ",".join(want) and job["parameters"] == {"devices": {"match": {"role": role}}}
    none = dict(body, parameters={"devices": {"match": {"role": role, "q": "no-such-device-anywhere"}}})
    refused = portal_api.post(f"{stack.portal_url}/api/v1/jobs", json=none, timeout=60)
    assert refused.status_code == 400 and "devices: no device matches" in refused.json()["error"]
