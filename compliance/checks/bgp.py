# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Custom compliance checks for BGP (policy: compliance/features.yml, feature bgp).

A check is ``function(config, intended, device)``: ``config`` and ``intended`` are parsed
configurations (``.lines``: netutils ConfigLines; ``.blocks``: (header, lines) per top-level
line; ``.sections(prefixes)``), ``intended`` may be None, ``device`` is a dict (name, platform,
tags). It returns None when compliant, or a dict with ``missing`` and/or ``extra`` snippets.
"""

from __future__ import annotations


def neighbors_have_descriptions(config, intended, device):
    """Every BGP neighbour (``neighbor X remote-as N``) has a ``neighbor X description``."""
    missing = []
    for header, block in config.blocks:
        if not header.startswith("router bgp "):
            continue
        words = [line.config_line.split() for line in block[1:]]
        peers = [w[1] for w in words if len(w) >= 4 and w[0] == "neighbor" and w[2] == "remote-as"]
        described = {w[1] for w in words if len(w) >= 3 and w[0] == "neighbor" and w[2] == "description"}
        lost = [peer for peer in peers if peer not in described]
        if lost:
            child = block[1].config_line  # the platform's indentation (FRR and IOS 1, EOS 3)
            indent = child[: len(child) - len(child.lstrip())]
            missing.append("\n".join([header] + ["%sneighbor %s description <who it is>" % (indent, p) for p in lost]))
    if missing:
        return {"missing": missing, "message": "describe each neighbour (remote-as without description)"}
    return None
