"""`netoss job run` parameters: key=value strings typed as the template declares."""

from __future__ import annotations

import pytest

from netoss.data.portal_client import ClientError, parse_parameters

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


class _Answer:
    def __init__(self, status: int, lines: list[str] = (), headers: dict | None = None):
        self.status_code, self.lines, self.headers, self.reason = status, list(lines), headers or {}, "x"

    def iter_lines(self, decode_unicode=True):
        return iter(self.lines)

    def json(self):
        return {"error": "refused"}


def test_a_stream_that_ends_or_is_refused_is_resumed_after_the_last_event():
    from netoss.data.portal_client import PortalClient

    answers = [
        _Answer(200, ["retry: 1000", "", "id: 1", "event: job-event", 'data: {"seq": 1}', ""]),  # ends early
        _Answer(503, headers={"Retry-After": "0"}),  # too many streams open: retried
        _Answer(200, ["id: 2", "event: job-event", 'data: {"seq": 2}', "", "event: end", 'data: {"status": "ok"}', ""]),
    ]
    asked = []

    class Session:
        def get(self, url, params, **kwargs):
            asked.append(params["after"])
            return answers.pop(0)

    client = PortalClient("http://portal", "token")
    client.session = Session()
    events = list(client.stream(7))
    assert events == [("job-event", {"seq": 1}), ("job-event", {"seq": 2}), ("end", {"status": "ok"})]
    assert asked == [0, 1, 1]
