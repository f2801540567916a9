"""The relay adds the router's name to glibc's syslog lines (RFC 3164 HOSTNAME)."""

from __future__ import annotations

from portal.lab.syslog_relay import with_hostname


def test_hostname_goes_after_the_timestamp():
    line = b"<30>Nov 26 12:28:22 bgpd[28313]: [PXVXG-TFNNT] %ADJCHANGE: neighbor 198.19.0.1(r2) Down\x00"
    assert with_hostname(line, "pe1") == (
        b"<30>Nov 26 12:28:22 pe1 bgpd[28313]: [PXVXG-TFNNT] %ADJCHANGE: neighbor 198.19.0.1(r2) Down"
    )


def test_single_digit_days_keep_their_padding():
    assert with_hostname(b"<29>Dec  1 01:02:03 zebra[1]: up\n", "p1") == b"<29>Dec  1 01:02:03 p1 zebra[1]: up"


def test_lines_without_a_header_pass_unchanged():
    assert with_hostname(b"garbage", "p1") == b"garbage"
