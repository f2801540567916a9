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
    """What the client's ``open`` gives back: an open response, or the refusal it raises."""

    def __init__(self, status: int, lines: list[str] = (), headers: dict | None = None):
        self.status_code, self.lines, self.headers, self.reason = status, list(lines), headers or {}, "x"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(f"{line}\r\n".encode() for line in self.lines)

    def json(self):
        return {"error": "refused"}


def test_a_stream_that_ends_or_is_refused_is_resumed_after_the_last_event():
    from ansible_collections.netoss.core.plugins.module_utils.portal_client import PortalError
    from netoss.data.portal_client import PortalClient

    answers = [
        _Answer(200, ["retry: 1000", "", "id: 1", "event: job-event", 'data: {"seq": 1}', ""]),  # ends early
        _Answer(503, headers={"Retry-After": "0"}),  # too many streams open: retried
        _Answer(200, ["id: 2", "event: job-event", 'data: {"seq": 2}', "", "event: end", 'data: {"status": "ok"}', ""]),
    ]
    asked = []

    def open_(method, path, query=None, **kwargs):
        asked.append(query["after"])
        answer = answers.pop(0)
        if answer.status_code != 200:
            raise PortalError("refused", answer.status_code, answer.json(), answer.reason, answer.headers)
        return answer

    client = PortalClient("http://portal", "token")
    client.open = open_
    events = list(client.stream(7))
    assert events == [("job-event", {"seq": 1}), ("job-event", {"seq": 2}), ("end", {"status": "ok"})]
    assert asked == [0, 1, 1]
