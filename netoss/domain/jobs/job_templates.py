"""Job templates as code: YAML files in ``jobs/`` (one template per file), schema-checked.

A template names a playbook, who may run it (roles), its check-mode policy, how the device
limit is made, and typed parameters. :func:`load_templates` reports every problem of every
file at once, each naming the file and the key. :func:`validate_launch` checks the values of
a launch on the server and returns them as plain data, or the list of problems, each naming
the parameter. Values never carry Jinja: Ansible would evaluate ``{{ lookup('pipe', 'id') }}``
given as an extra var were it not passed as unsafe (it is: netoss.domain.jobs.runner), and, as a
second line, any value with template syntax (or a ``#jinja2:`` header) is refused before
anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from netoss.data.models import ROLES

PARAM_TYPES = ("string", "integer", "boolean", "choice", "multichoice", "secret")
CHECK_POLICIES = ("never", "allowed", "always")
# Template syntax, and the "#jinja2:variable_start_string:'[[', ..." header that redefines it.
# A second line only: every value reaches Ansible tagged !unsafe (netoss.domain.jobs.runner).
JINJA = re.compile(r"{{|{%|{#|}}|%}|#}|#\s*jinja2\s*:", re.IGNORECASE)
NAME = r"^[a-z][a-z0-9-]{1,62}$"
PARAM_NAME = r"^[a-z][a-z0-9_]{0,62}$"

_CHOICES_FROM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["netbox"],
    "properties": {
        "netbox": {"enum": ["dcim.sites", "dcim.devices", "dcim.device_roles", "dcim.platforms", "tenancy.tenants"]},
        "value": {"type": "string", "pattern": r"^[a-z_]+$", "default": "name"},
        "label": {"type": "string", "pattern": r"^[a-z_]+$"},
        "filter": {
            "type": "object",
            "description": "NetBox filters; a value '{param}' takes another parameter's value (dependent choices)",
            "additionalProperties": {"type": "string"},
        },
    },
}

_PARAMETER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string", "pattern": PARAM_NAME},
        "type": {"enum": list(PARAM_TYPES)},
        "label": {"type": "string"},
        "help": {"type": "string"},
        "required": {"type": "boolean"},
        "default": {},
        "pattern": {"type": "string"},
        "min_length": {"type": "integer", "minimum": 0},
        "max_length": {"type": "integer", "minimum": 1},
        "minimum": {"type": "integer"},
        "maximum": {"type": "integer"},
        "choices": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
        "choices_from": _CHOICES_FROM,
        "var": {
            "type": "string",
            "pattern": r"^[a-z_][a-z0-9_]*$",
            "description": "the extra var the value is passed as; a parameter without one only shapes the limit",
        },
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "description", "roles"],
    "properties": {
        "name": {"type": "string", "pattern": NAME},
        "description": {"type": "string", "minLength": 1},
        "playbook": {"type": "string", "pattern": r"^playbooks/[A-Za-z0-9_.-]+\.ya?ml$"},
        "action": {
            "type": "string",
            "pattern": NAME,
            "description": (
                "instead of a playbook, an action of netoss's own (netoss.domain.jobs.actions: "
                "gitops-apply, gitops-plan) that runs the collection's playbooks itself"
            ),
        },
        "roles": {"type": "array", "items": {"enum": list(ROLES)}, "minItems": 1, "uniqueItems": True},
        "check_mode": {"enum": list(CHECK_POLICIES), "default": "allowed"},
        "apply_roles": {
            "type": "array",
            "items": {"enum": list(ROLES)},
            "minItems": 1,
            "uniqueItems": True,
            "description": (
                "the roles that may run it outside check mode (default: all its roles); the "
                "others run it in check mode only, and one of these approves by applying"
            ),
        },
        "changes_devices": {
            "type": "boolean",
            "description": (
                "whether a run outside check mode changes the devices of its limit: such a run "
                "locks them, and an alarm on one of them soon after names the job as probable "
                "cause (default: true unless check_mode is always)"
            ),
        },
        "maintenance_window": {
            "type": "boolean",
            "description": (
                "whether a run that changes devices is a planned change: a maintenance window over "
                "its devices lasts while it runs (and two minutes after), so their alarms are "
                "planned and open no ticket (default: false)"
            ),
        },
        "limit": {
            "type": "object",
            "additionalProperties": False,
            "required": ["parameter"],
            "properties": {"parameter": {"type": "string", "pattern": PARAM_NAME}},
        },
        "parameters": {"type": "array", "items": _PARAMETER},
        "timeout": {"type": "integer", "minimum": 10, "maximum": 86400, "default": 3600},
    },
}


class TemplateError(ValueError):
    """Job template files with problems; ``problems`` lists each, naming the file and key."""

    def __init__(self, problems: list[str]):
        plural = "" if len(problems) == 1 else "s"
        super().__init__(f"job templates have {len(problems)} problem{plural}:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass
class Parameter:
    name: str
    type: str
    label: str = ""
    help: str = ""
    required: bool = False
    default: object = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: list | None = None
    choices_from: dict | None = None
    var: str | None = None

    @property
    def extra_var(self) -> str:
        return self.var or self.name

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, "", False) or k in ("required",)}
        if self.type == "secret":
            out.pop("default", None)
        return out


@dataclass
class JobTemplate:
    name: str
    description: str
    roles: list[str]
    playbook: str | None = None
    action: str | None = None
    check_mode: str = "allowed"
    apply_roles: list[str] | None = None
    limit: dict | None = None
    parameters: list[Parameter] = field(default_factory=list)
    timeout: int = 3600
    changes_devices: bool | None = None
    maintenance_window: bool = False
    source: str = ""

    def __post_init__(self):
        if self.changes_devices is None:
            self.changes_devices = self.check_mode != "always"

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def allowed(self, role: str) -> bool:
        return role in self.roles or role == "admin"

    def may_apply(self, role: str) -> bool:
        """Whether ``role`` may run it outside check mode."""
        return self.allowed(role) and (self.apply_roles is None or role in self.apply_roles or role == "admin")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "playbook": self.playbook,
            "action": self.action,
            "roles": self.roles,
            "check_mode": self.check_mode,
            "apply_roles": self.apply_roles or self.roles,
            "limit": self.limit,
            "timeout": self.timeout,
            "changes_devices": self.changes_devices,
            "maintenance_window": self.maintenance_window,
            "parameters": [p.to_dict() for p in self.parameters],
        }


def _where(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top)"


def _check(data: dict, where: str, repo: Path | None) -> list[str]:
    problems = []
    names = [p.get("name") for p in data.get("parameters", [])]
    for i, p in enumerate(data.get("parameters", [])):
        at = f"{where}: parameters[{i}] {p.get('name')!r}"
        kind = p.get("type")
        if names.count(p.get("name")) > 1:
            problems.append(f"{at}: duplicate parameter name")
        if kind in ("choice", "multichoice") and not (p.get("choices") or p.get("choices_from")):
            problems.append(f"{at}: a {kind} parameter needs choices or choices_from")
        if kind not in ("choice", "multichoice") and (p.get("choices") or p.get("choices_from")):
            problems.append(f"{at}: only choice and multichoice parameters take choices")
        if p.get("pattern") is not None:
            if kind not in ("string", "secret"):
                problems.append(f"{at}: pattern is only for string and secret parameters")
            else:
                try:
                    re.compile(p["pattern"])
                except re.error as exc:
                    problems.append(f"{at}: pattern is not a valid regular expression: {exc}")
        if ("minimum" in p or "maximum" in p) and kind != "integer":
            problems.append(f"{at}: minimum and maximum are only for integer parameters")
        if kind == "secret" and "default" in p:
            problems.append(f"{at}: a secret parameter cannot have a default (it would live in git)")
        for ref in re.findall(r"{(\w+)}", str((p.get("choices_from") or {}).get("filter", {}))):
            if ref not in names or names.index(ref) >= i:
                problems.append(f"{at}: choices_from filter uses {{{ref}}}, which is not an earlier parameter")
        if "default" in p and kind != "secret":
            error = _value_problem(_parameter(p), p["default"], choices=None)
            if error:
                problems.append(f"{at}: default: {error}")
    outside = sorted(set(data.get("apply_roles") or []) - set(data.get("roles") or []))
    if outside:
        problems.append(f"{where}: apply_roles: {', '.join(outside)} not in roles")
    if data.get("apply_roles") and data.get("check_mode") in ("never", "always"):
        problems.append(f"{where}: apply_roles: only for a template whose check_mode is allowed")
    limit = (data.get("limit") or {}).get("parameter")
    if limit and limit not in names:
        problems.append(f"{where}: limit.parameter: no parameter {limit!r}")
    if ("playbook" in data) == ("action" in data):
        problems.append(f"{where}: playbook, action: give one of them (the playbook it runs, or netoss's action)")
    if repo is not None and data.get("playbook") and not (repo / data["playbook"]).is_file():
        problems.append(f"{where}: playbook: no file {data['playbook']} in the repository")
    return problems


def _parameter(p: dict) -> Parameter:
    return Parameter(**{k: v for k, v in p.items() if k in Parameter.__dataclass_fields__})


_LOADED: dict[tuple, tuple[tuple, dict[str, JobTemplate]]] = {}


def _signature(directory: Path, files: list[Path], repo: Path | None) -> tuple:
    """What a loaded set of templates depends on: the files, and the playbooks they name."""
    stats = []
    for path in files:
        st = path.stat()
        stats.append((path.name, st.st_mtime_ns, st.st_size))
    if repo is not None:
        playbooks = repo / "playbooks"
        stats.append(("playbooks/", playbooks.stat().st_mtime_ns if playbooks.is_dir() else 0, 0))
    return tuple(stats)


def load_templates(directory: Path, repo: Path | None = None) -> dict[str, JobTemplate]:
    """Every template of ``directory`` (*.yml), by name; TemplateError lists every problem.

    A launch and every template call of the API read them, so a set that loaded cleanly is
    kept until a file of it changes (its mtime or size), one is added or removed, or the
    playbooks directory changes."""
    files = sorted(directory.glob("*.y*ml"))
    key = (str(directory), str(repo))
    try:
        signature = _signature(directory, files, repo)
    except OSError:
        signature = None  # a file went away meanwhile: load, and report what is missing
    cached = _LOADED.get(key)
    if signature is not None and cached is not None and cached[0] == signature:
        return dict(cached[1])
    templates = _load(directory, files, repo)
    if signature is not None:
        _LOADED[key] = (signature, templates)
    return dict(templates)


def _load(directory: Path, files: list[Path], repo: Path | None) -> dict[str, JobTemplate]:
    problems, templates = [], {}
    if not files:
        raise TemplateError([f"{directory}: no job template files (*.yml)"])
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for path in files:
        where = f"{path.parent.name}/{path.name}"
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            problems.append(f"{where}: not valid YAML: {exc}")
            continue
        if not isinstance(data, dict):
            problems.append(f"{where}: a job template is a mapping (name, description, playbook, roles, ...)")
            continue
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            problems.extend(f"{where}: {_where(e.path)}: {e.message}" for e in errors)
            continue
        problems.extend(_check(data, where, repo))
        if data["name"] in templates:
            problems.append(f"{where}: name: template {data['name']!r} is also in {templates[data['name']].source}")
            continue
        templates[data["name"]] = JobTemplate(
            **{k: v for k, v in data.items() if k != "parameters"},
            parameters=[_parameter(p) for p in data.get("parameters", [])],
            source=where,
        )
    if problems:
        raise TemplateError(problems)
    return templates


def _value_problem(param: Parameter, value, choices: list | None) -> str | None:
    """Why ``value`` is not acceptable for ``param`` (None when it is)."""
    kind = param.type
    if kind in ("string", "secret"):
        if not isinstance(value, str):
            return "must be a string"
        if JINJA.search(value):
            return "must not contain template syntax ({{ }}, {% %}, {# #}, #jinja2:)"
        if param.min_length is not None and len(value) < param.min_length:
            return f"must be at least {param.min_length} characters"
        if param.max_length is not None and len(value) > param.max_length:
            return f"must be at most {param.max_length} characters"
        if param.pattern is not None and not re.fullmatch(param.pattern, value):
            shown = "(hidden)" if kind == "secret" else repr(value)
            return f"{shown} does not match {param.pattern}"
        return None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if param.minimum is not None and value < param.minimum:
            return f"must be at least {param.minimum}"
        if param.maximum is not None and value > param.maximum:
            return f"must be at most {param.maximum}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    values = value if kind == "multichoice" else [value]
    if kind == "multichoice" and not isinstance(value, list):
        return "must be a list"
    allowed = choices if choices is not None else param.choices
    for v in values:
        if not isinstance(v, str | int) or isinstance(v, bool):
            return f"{v!r} is not a valid choice"
        if isinstance(v, str) and JINJA.search(v):
            return "must not contain template syntax ({{ }}, {% %}, {# #}, #jinja2:)"
        if allowed is not None and v not in allowed:
            shown = ", ".join(map(str, allowed[:10])) + (", …" if len(allowed) > 10 else "")
            return f"{v!r} is not one of: {shown}"
    return None


ChoiceResolver = Callable[[Parameter, dict], list]


def validate_launch(
    template: JobTemplate, values: dict, resolve_choices: ChoiceResolver | None = None
) -> tuple[dict, list[str]]:
    """Check a launch's parameter values; returns (clean values by parameter name, problems).

    ``resolve_choices(parameter, values_so_far)`` returns the allowed values of a parameter
    whose choices come from NetBox (dependent choices see the values of earlier parameters).
    """
    problems = []
    if not isinstance(values, dict):
        return {}, ["parameters must be a mapping of name to value"]
    for unknown in sorted(set(values) - {p.name for p in template.parameters}):
        problems.append(f"{unknown}: no such parameter in template {template.name!r}")
    clean = {}
    for param in template.parameters:
        if param.name not in values or values[param.name] in (None, "", []):
            if param.required:
                problems.append(f"{param.name}: is required")
            elif param.default is not None:
                clean[param.name] = param.default
            continue
        choices = None
        if param.choices_from is not None:
            if resolve_choices is None:
                problems.append(f"{param.name}: its choices come from NetBox, which cannot be read")
                continue
            choices = resolve_choices(param, clean)
        error = _value_problem(param, values[param.name], choices)
        if error:
            problems.append(f"{param.name}: {error}")
        else:
            clean[param.name] = values[param.name]
    return clean, problems


def netbox_filter(param: Parameter, values: dict) -> dict:
    """The NetBox filter of a choices_from parameter, with {param} references filled in."""
    out = {}
    for key, raw in ((param.choices_from or {}).get("filter") or {}).items():
        refs = re.findall(r"{(\w+)}", raw)
        if refs and any(values.get(r) in (None, "", []) for r in refs):
            continue  # the parameter it depends on is not set: no filter on it
        out[key] = raw.format(**{r: values[r] for r in refs}) if refs else raw
    return out
