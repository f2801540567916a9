"""`netoss job run` parameters: key=value strings typed as the template declares."""

from __future__ import annotations

import pytest

from portal.jobs.client import ClientError, parse_parameters

TEMPLATE = {
    "name": "t",
    "parameters": [
        {"name": "devices", "type": "multichoice"},
        {"name": "count", "type": "integer"},
        {"name": "prune", "type": "boolean"},
        {"name": "site", "type": "choice"},
    ],
}


def test_values_are_typed():
    assert parse_parameters(TEMPLATE, ["devices=pe1,pe2", "devices=p1", "count=3", "prune=no", "site=ams1"]) == {
        "devices": ["pe1", "pe2", "p1"],
        "count": 3,
        "prune": False,
        "site": "ams1",
    }


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["devices"], "-p 'devices': expected key=value"),
        (["nope=1"], "-p nope: template 't' has no such parameter (it has: devices, count, prune, site)"),
        (["count=three"], "-p count: 'three' is not an integer"),
        (["prune=maybe"], "-p prune: 'maybe' is not true or false"),
    ],
)
def test_bad_values_are_named(pairs, message):
    with pytest.raises(ClientError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_parameters(TEMPLATE, pairs)
