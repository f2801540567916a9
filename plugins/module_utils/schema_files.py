# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML files checked against a JSON Schema, with problems that name the file and the key.

The intent, the compliance policy and the other "as code" inputs of netoss share this: every
problem is reported at once, in the order of the document, as ``file: where: what``, where
``where`` reads like ``features[2] 'bgp': rules: frr[0] 'neighbors'``.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils import collector

# jsonschema and PyYAML are not part of the Python that runs a module: without them the modules
# fail with Ansible's usual "Failed to import the required Python library" message (through
# require_schema_libraries), not with a traceback.
try:
    import jsonschema
except ImportError:
    jsonschema = None
    JSONSCHEMA_IMPORT_ERROR = traceback.format_exc()
else:
    JSONSCHEMA_IMPORT_ERROR = None
try:
    import yaml
except ImportError:
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None
HAS_JSONSCHEMA = JSONSCHEMA_IMPORT_ERROR is None
HAS_YAML = YAML_IMPORT_ERROR is None


def _missing():
    """(library, import traceback) of the first library this file needs and cannot import."""
    if not HAS_YAML:
        return "PyYAML", YAML_IMPORT_ERROR
    if not HAS_JSONSCHEMA:
        return "jsonschema", JSONSCHEMA_IMPORT_ERROR
    return None, None


def _message(library):
    # Imported here, when a library is missing: ansible.module_utils.basic takes about 0.1 s
    # to import, which the netoss CLI and portal (they use this file too) should not pay.
    from ansible.module_utils.basic import missing_required_lib

    return missing_required_lib(library)


def require_schema_libraries(module):
    """Fail ``module`` (an AnsibleModule) with Ansible's missing-library message when PyYAML or
    jsonschema cannot be imported; modules that read files checked against a schema call this
    before reading any."""
    library, error = _missing()
    if library:
        module.fail_json(msg=_message(library), exception=error)


def _require():
    library, _error = _missing()
    if library:
        raise RuntimeError(_message(library))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: the file, where in it, and what."""

    file: str
    where: str
    message: str

    def __str__(self):
        return ": ".join(part for part in (self.file, self.where, self.message) if part)


class ProblemsError(ValueError):
    """Some input is invalid; ``problems`` lists everything wrong with it, each on its line."""

    what = "input"

    def __init__(self, problems):
        self.problems = list(problems)
        count = len(self.problems)
        header = "%s has %d problem%s:" % (self.what, count, "" if count == 1 else "s")
        super().__init__("\n".join([header] + ["  %s" % problem for problem in self.problems]))


def label(item):
    """`` 'name'`` of a list entry, for locations (the first of name, model, prefix… it has)."""
    if isinstance(item, dict):
        for key in ("name", "model", "prefix", "address", "asn", "feature"):
            if isinstance(item.get(key), (str, int)):
                text = str(item[key])
                if not text.isprintable() or len(text) > 60:
                    # A location stays one short line, whatever the value holds.
                    text = text[:60].encode("unicode_escape").decode("ascii") + ("..." if len(text) > 60 else "")
                return " '%s'" % text
    return ""


def display(path):
    """Path as given, or relative to the working directory when it lies below it."""
    path = Path(path)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(path)


def _construct_unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


if HAS_YAML:
    # libyaml's parser when PyYAML has it: the pure-Python one takes seconds on a fleet's intent.
    class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        """SafeLoader that rejects duplicate keys, which PyYAML would silently collapse to the last."""

    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def read_yaml(path, name, problems):
    """The document in ``path``, or None with the reason appended to ``problems``."""
    _require()
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        # A parse builds plain data only, no garbage cycles: the collector sweeping the growing
        # document meanwhile costs a quarter of the time of a fleet's intent.
        with collector.paused():
            return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = "line %d" % (mark.line + 1) if mark else ""
        message = "YAML syntax error: %s" % (exc.problem or exc.context)
        if exc.problem and exc.context:
            message += " (%s)" % exc.context
        problems.append(Problem(name, where, message))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(Problem(name, "", "cannot read: %s" % exc))
    return None


def where(doc, path):
    """Human location of a JSON path, e.g. ``devices[2] 'pe1': interfaces[1] 'eth1'``."""
    parts, node, i = [], doc, 0
    while i < len(path):
        segment, node = str(path[i]), node[path[i]]
        if i + 1 < len(path) and isinstance(path[i + 1], int):
            node = node[path[i + 1]]
            segment += "[%d]%s" % (path[i + 1], label(node))
            i += 1
        parts.append(segment)
        i += 1
    return ": ".join(parts)


def _document_order(doc, path):
    """Sort key that puts schema errors in the order of the document, parents first."""
    key, node = [], doc
    for part in path:
        key.append(list(node).index(part) if isinstance(node, dict) else part)
        node = node[part]
    return key


_VALIDATORS = {}


def _validator(schema):
    """One validator per schema (a module-level constant), built once: checking entries one by
    one builds none each time."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None or validator.schema is not schema:
        validator = _VALIDATORS[id(schema)] = jsonschema.Draft202012Validator(schema)
    return validator


def schema_problems(doc, name, schema, expected="a mapping", at=()):
    """Every way ``doc`` (read from file ``name``) breaks ``schema``, as :class:`Problem` s.

    With ``at`` (a path in ``doc``, such as ``("devices", 3)``), only the value there is checked,
    against ``schema``, and the problems are located in ``doc`` as when checking it whole."""
    if not at and not isinstance(doc, dict):
        return [Problem(name, "", "expected %s, got %s" % (expected, type(doc).__name__))]
    _require()
    problems = []
    node = doc
    for part in at:
        node = node[part]
    for error in sorted(_validator(schema).iter_errors(node), key=lambda e: _document_order(node, e.absolute_path)):
        path = list(at) + list(error.absolute_path)
        if error.validator == "additionalProperties" and "properties" in error.schema:
            allowed = ", ".join(sorted(error.schema["properties"]))
            what = "top-level key" if not path else "key"
            for key in sorted(set(error.instance) - set(error.schema["properties"]), key=str):
                close = difflib.get_close_matches(str(key), list(error.schema["properties"]), n=1)
                hint = "did you mean %r? " % close[0] if close else ""
                message = "unknown %s %r (%sallowed: %s)" % (what, key, hint, allowed)
                problems.append(Problem(name, where(doc, path), message))
            continue
        if error.validator == "required":
            for key in error.validator_value:
                if key not in error.instance:
                    problems.append(Problem(name, where(doc, path), "missing required key %r" % key))
            continue
        prefix = ""
        if path and isinstance(path[-1], str):
            prefix = "%s: " % path.pop()
        message = prefix + error.message
        if isinstance(error.schema, dict) and error.schema.get("description"):
            message += " (%s)" % error.schema["description"]
        problems.append(Problem(name, where(doc, path), message))
    return list(dict.fromkeys(problems))


def yaml_files(root):
    """The *.yml / *.yaml files of directory ``root`` in name order (or ``[root]`` for a file);
    None when ``root`` does not exist."""
    root = Path(root)
    if root.is_dir():
        return sorted(p for p in root.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file() and p.name[0] != ".")
    if root.is_file():
        return [root]
    return None


def read_checked(path, schema, expected, what=None, prepare=None):
    """Read every YAML file of ``path`` (a directory of *.yml/*.yaml in name order, or one file)
    and check it against ``schema``: (problems, [(name, document)] of the files without any,
    the names of every file read; an empty file is read but has no document).
    ``expected`` says what a document should be; ``what`` names the files in the problem of a
    directory without any (None: an empty directory is no problem); ``prepare(document)``
    adjusts a document before its check."""
    files = yaml_files(path)
    if files is None:
        return [Problem(display(path), "", "no such file or directory")], [], []
    if not files and what:
        return [Problem(display(path), "", "no %s files (*.yml, *.yaml) in this directory" % what)], [], []
    problems, docs = [], []
    for file in files:
        name = display(file)
        doc = read_yaml(file, name, problems)
        if doc is None:
            continue
        if prepare is not None:
            prepare(doc)
        found = schema_problems(doc, name, schema, expected=expected)
        problems.extend(found)
        if not found:
            docs.append((name, doc))
    return problems, docs, [display(f) for f in files]
