# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading the intent: its files read in name order, each checked against the schema.

:func:`load_intent` reads a directory of ``*.yml``/``*.yaml`` files (or one file), checks every
file against the schema of its kinds (intent_schema) and every string for control characters,
merges the kinds, then runs the consistency checks (intent_checks), and reports every problem
at once, each named by file and key (intent_schema.IntentError).
"""

from __future__ import annotations

import hashlib
import marshal

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.intent_checks import check_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import (
    FILE_SCHEMA,
    KIND_SCHEMAS,
    Entry,
    Intent,
    IntentError,
)
from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem, schema_problems, yaml_files
from ansible_collections.netoss.core.plugins.module_utils.schema_files import display as _display
from ansible_collections.netoss.core.plugins.module_utils.schema_files import label as _label
from ansible_collections.netoss.core.plugins.module_utils.schema_files import read_yaml as _read_yaml

# The shape of a file: a mapping of known kinds to lists; each entry is checked on its own
# against its kind's schema (intent_schema.KIND_SCHEMAS), so that an entry known valid from the
# last load need not be checked again.
_SHAPE_SCHEMA = dict(
    FILE_SCHEMA, properties={kind: dict(schema, items=True) for kind, schema in FILE_SCHEMA["properties"].items()}
)


def entry_digest(kind, item):
    """A digest of an entry's kind and value (types and key order included), or None for a value
    that cannot be told apart from another (a YAML date, say): such an entry is always checked."""
    try:
        data = marshal.dumps(item, 0)  # version 0: the same bytes for equal values, however shared
    except ValueError:
        return None
    return hashlib.sha256(kind.encode() + b"\0" + data).digest()


def _schema_problems(doc, name, known_valid=(), valid=None):
    """The file's problems (schema, then control characters), each entry checked on its own;
    entries whose digest is in ``known_valid`` are not checked again, and the digest of each
    entry without a problem is added to ``valid`` (a set, when given)."""
    problems = schema_problems(doc, name, _SHAPE_SCHEMA, expected="a mapping of kind: list of entries")
    controls = []
    if isinstance(doc, dict):
        for kind, items in doc.items():
            if kind not in KIND_SCHEMAS or not isinstance(items, list):
                controls.extend(_control_problems({kind: items}, name))
                continue
            for i, item in enumerate(items):
                digest = entry_digest(kind, item)
                if digest is not None and digest in known_valid:
                    if valid is not None:
                        valid.add(digest)
                    continue
                found = schema_problems(doc, name, KIND_SCHEMAS[kind], at=(kind, i))
                bad = _control_problems(doc, name, at=(kind, i))
                problems.extend(found)
                controls.extend(bad)
                if not (found or bad) and digest is not None and valid is not None:
                    valid.add(digest)
    return [Problem(p.file, p.where, _shorter(p.message)) for p in list(dict.fromkeys(problems)) + controls]


def _shorter(message):
    """A schema message that quotes no more than a short excerpt of the value."""
    if len(message) > 400:  # the list of allowed kinds fits whole
        message = message[:120] + " [...] " + message[-170:]
    return message


def _control_problems(doc, name, at=None):
    """Every string of the file with a control character (a banner may have line breaks); with
    ``at`` (kind, index), of that entry only."""
    problems = []

    def walk(value, path, where):
        if isinstance(value, str):
            banner = len(path) >= 2 and path[-2:] == ["netoss", "banner"]
            bad = [c for c in value if (ord(c) < 32 and not (banner and c == "\n")) or ord(c) == 127]
            if bad:
                problems.append(
                    Problem(
                        name,
                        where,
                        "%s: %s contains %s"
                        % (path[-1], config_values.excerpt(value), config_values.char_name(bad[0])),
                    )
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, [*path, "key"], where)
                walk(item, [*path, key], where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                entry(item, path, i, where)

    def entry(item, path, i, where):
        here = "%s[%d]%s" % (path[-1], i, _label(item))
        walk(item, [*path, i], "%s: %s" % (where, here) if where else here)

    if at is not None:
        kind, i = at
        entry(doc[kind][i], [kind], i, "")
        return problems
    for kind, items in doc.items():
        walk(items, [kind], "")
    return problems


def load_intent(path, known_valid=()):
    """Load and validate the intent in ``path`` (a directory of *.yml/*.yaml files, or one file).

    Files are read in name order. Every file is checked against the schema of its kinds; when
    all files are well-formed the semantic checks run (references, duplicates, addressing,
    cabling). Returns an intent_schema.Intent; raises intent_schema.IntentError listing every problem.

    ``known_valid``: digests of entries (:func:`entry_digest`) this code found valid before, for
    example ``Intent.valid`` of the last load: those entries are not checked against the schema
    again (the semantic checks always run on the whole intent).
    """
    files = yaml_files(path)
    if files is None:
        raise IntentError([Problem(_display(path), "", "no such file or directory")])
    if not files:
        raise IntentError([Problem(_display(path), "", "no intent files (*.yml, *.yaml) in this directory")])

    intent, problems = Intent(), []
    for file in files:
        name = _display(file)
        intent.files.append(name)
        doc = _read_yaml(file, name, problems)
        if doc is None:
            continue
        file_problems = _schema_problems(doc, name, known_valid, intent.valid)
        problems.extend(file_problems)
        if not file_problems:
            for kind, items in doc.items():
                intent.entries[kind].extend(Entry(kind, item, name, i) for i, item in enumerate(items or []))
    if problems:
        raise IntentError(problems)
    problems = check_intent(intent)
    if problems:
        raise IntentError(problems)
    return intent
