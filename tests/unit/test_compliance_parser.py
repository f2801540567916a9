"""The compliance engine's one-pass parser (compliance._parse) against netutils' own parsers:
the same ConfigLines (and the same errors) on the golden configurations, on configurations as
devices print them, and on thousands of random ones (indentation that goes up and down by odd
steps, comments, blank lines, FRR's exit lines, banners of every kind, repeated lines). And the
forbidden rules' multi-line prefilter: it never misses a line that the line-by-line search finds."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils import compliance
from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import _line_start

DATA = Path(__file__).parent / "test_data" / "render"
PLATFORMS = ("frr", "eos", "ios")


def netutils(cls, text):
    try:
        return cls(text).config_lines
    except Exception as exc:
        return (type(exc), str(exc))


def ours(cls, text):
    try:
        lines, blocks = compliance._parse(cls, text)
    except Exception as exc:
        return (type(exc), str(exc))
    if blocks is not None:  # the blocks as Parsed.of makes them from the lines
        expected, current = [], None
        for line in lines:
            if not line.parents:
                current = (line.config_line, [line])
                expected.append(current)
            elif current is not None:
                current[1].append(line)
        assert blocks == expected
    return lines


def golden():
    for path in sorted(DATA.rglob("*.cfg")):
        platform = path.parent.name if path.parent.name in PLATFORMS else "frr"
        yield pytest.param(platform, path.read_text(), id=str(path.relative_to(DATA)))


@pytest.mark.parametrize(("platform", "text"), list(golden()))
def test_the_golden_configurations_parse_as_netutils_parses_them(platform, text):
    cls = compliance.parser_class(platform)
    assert ours(cls, text) == netutils(cls, text)


def test_the_fast_path_takes_what_devices_print():
    """Without banners (FRR) and with top-level banners (EOS, IOS), no fallback to netutils."""
    for path in sorted(DATA.rglob("*.cfg")):
        platform = path.parent.name if path.parent.name in PLATFORMS else "frr"
        cls = compliance.parser_class(platform)
        split, banners, _unique = compliance._fast_path(cls)
        lines, blocks = compliance._relationships(split(path.read_text()), tuple, banners)
        assert lines and blocks, path


WORDS = ("interface eth1", "router bgp 65000", "address-family ipv4 unicast", "neighbor 10.0.0.1 remote-as 1",
         "description uplink", "ip address 10.0.0.0/31", "shutdown", "route-map RM permit 10", "match x",
         "hostname r1", "log syslog", "line vty", "transport input ssh")  # fmt: skip
BANNERS = {
    "frr": ["banner motd line hello"],
    "eos": [
        "banner motd\nAuthorised access only\n  indented text\nEOF",
        "banner login\nhi\nEOF",
        "banner motd\nno end",
    ],
    "ios": [
        "banner motd ^C\nAuthorised access only\n^C",
        "banner login #\nhello\n#",
        "banner exec ^Chi^C",
        "banner motd ^CCC\nx\n^C",
        "banner incoming ^\nline\n text^",
        "banner motd",
        "banner motd ^C^C",
        "banner motd ^C\nno end",
    ],
}
JUNK = ("!", " ! comment", "", "   ", "exit", " exit-address-family", "end", "frr version 8.4.4",
        "Building configuration...", "\tmtu 9000", "x  ", "{", "set system host-name r1")  # fmt: skip


def random_config(rng, platform):
    lines = []
    depth = 0
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.08:
            lines.append(rng.choice(JUNK))
        elif roll < 0.13:
            text = rng.choice(BANNERS[platform])
            lines.append(" " * rng.choice((0, 0, 0, 1)) + text)
        elif roll < 0.18 and lines:
            lines.append(rng.choice(lines))  # a repeated line (IOS re-parents those)
        else:
            depth = max(0, depth + rng.choice((-3, -2, -1, 0, 0, 1, 1, 2)))
            step = rng.choice((1, 1, 2, 3))
            lines.append(" " * (depth * step + rng.choice((0, 0, 0, 1))) + rng.choice(WORDS) + " " * rng.randint(0, 1))
    return "\n".join(lines) + rng.choice(("", "\n", "\nend\n"))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_random_configurations_parse_as_netutils_parses_them(platform):
    rng = random.Random(f"parser-{platform}")  # noqa: S311 - seeded test data
    cls = compliance.parser_class(platform)
    fast = 0
    for _ in range(3000):
        text = random_config(rng, platform)
        assert ours(cls, text) == netutils(cls, text), text
        split, banners, _unique = compliance._fast_path(cls)
        try:
            compliance._relationships(split(text), tuple, banners)
        except compliance._Fallback:
            continue
        fast += 1
    assert fast > 300  # the comparison covers the fast path, not only the fallback


LINES = ["log file /var/log/frr.log", "password zebra", "password 8 abc", "enable password x",
         "no log file", "ip http server", "management telnet", "logging host 1.2.3.4",
         "description log file here", " password indented"]  # fmt: skip
PATTERNS = ["^log file", r"^(enable )?password ([^8\s]|8\S)", "management telnet", "^a|^log", r"file$", r"^\S+ http",
            "(^password)", r"^(?:no )?log"]  # fmt: skip


def test_the_multi_line_prefilter_never_misses_a_line():
    rng = random.Random("prefilter")  # noqa: S311 - seeded test data
    for _ in range(2000):
        patterns = rng.sample(PATTERNS, rng.randint(1, 3))
        lines = [line.strip() for line in rng.sample(LINES, rng.randint(0, len(LINES)))]
        per_line = re.compile("|".join(f"(?:{p})" for p in patterns))
        prefilter = re.compile("|".join(_line_start(p) for p in patterns), re.MULTILINE)
        if any(per_line.search(line) for line in lines):
            assert prefilter.search("\n" + "\n".join(lines)), (patterns, lines)


def test_an_anchored_pattern_becomes_a_newline_literal():
    assert _line_start("^log file") == "\n(?:log file)"
    assert _line_start("^a|b") == "(?:^a|b)"  # a top-level alternative is not anchored
    assert _line_start("management telnet") == "(?:management telnet)"


FOREIGN = ['{"interfaces": {}}', "[1, 2]", "<config/>", "system {\n  host-name r1;\n}\n",
           "set system host-name r1\nset interfaces ge-0/0/0\n", "delete x\n", "", "!\n! only comments\n",
           "# a hash comment\nhostname r1\n", "hostname r1\n};\n}\n"]  # fmt: skip


def test_the_sniff_in_the_frr_split_says_what_sniff_says():
    rng = random.Random("sniff")  # noqa: S311 - seeded test data
    texts = list(FOREIGN)
    for _ in range(2000):
        texts.append("\n".join(rng.choice(FOREIGN + list(WORDS) + list(JUNK)) for _ in range(rng.randint(0, 12))))
    for text in texts:
        try:
            compliance.sniff(text, "frr")
            expected = compliance._frr_lines(text)
        except compliance.ConfigSyntaxError as exc:
            expected = str(exc)
        try:
            got = compliance._frr_lines_sniffed(text, "frr")
        except compliance.ConfigSyntaxError as exc:
            got = str(exc)
        assert got == expected, text
    assert sum(isinstance(t, str) for t in texts) == len(texts)
