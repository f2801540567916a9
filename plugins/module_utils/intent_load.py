# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading the intent: its files read in name order, each checked against the schema.

:func:`load_intent` reads a directory of ``*.yml``/``*.yaml`` files (or one file), checks every
file against the schema of its kinds (intent_schema) and every string for control characters,
merges the kinds, then runs the consistency checks (intent_checks), and reports every problem
at once, each named by file and key (intent_schema.IntentError).
"""

from __future__ import annotations

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.intent_checks import check_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import FILE_SCHEMA, Entry, Intent, IntentError
from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem, schema_problems, yaml_files
from ansible_collections.netoss.core.plugins.module_utils.schema_files import display as _display
from ansible_collections.netoss.core.plugins.module_utils.schema_files import label as _label
from ansible_collections.netoss.core.plugins.module_utils.schema_files import read_yaml as _read_yaml


def _schema_problems(doc, name):
    problems = schema_problems(doc, name, FILE_SCHEMA, expected="a mapping of kind: list of entries")
    if isinstance(doc, dict):
        problems = problems + _control_problems(doc, name)
    return [Problem(p.file, p.where, _shorter(p.message)) for p in problems]


def _shorter(message):
    """A schema message that quotes no more than a short excerpt of the value."""
    if len(message) > 400:  # the list of allowed kinds fits whole
        message = message[:120] + " [...] " + message[-170:]
    return message


def _control_problems(doc, name):
    """Every string of the file with a control character (a banner may have line breaks)."""
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
                at = "%s[%d]%s" % (path[-1], i, _label(item))
                at = "%s: %s" % (where, at) if where else at
                walk(item, [*path, i], at)

    for kind, items in doc.items():
        walk(items, [kind], "")
    return problems


def load_intent(path):
    """Load and validate the intent in ``path`` (a directory of *.yml/*.yaml files, or one file).

    Files are read in name order. Every file is checked against the schema of its kinds; when
    all files are well-formed the semantic checks run (references, duplicates, addressing,
    cabling). Returns an intent_schema.Intent; raises intent_schema.IntentError listing every problem.
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
        file_problems = _schema_problems(doc, name)
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
