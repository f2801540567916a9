"""Launching a job: validate, record, enqueue. Shared by the API and the UI."""

from __future__ import annotations

import time

from netoss.data import context
from netoss.data.db import db
from netoss.data.models import Job, Ticket, TicketNote, User
from netoss.data.netbox import NetBox
from netoss.domain.jobs.job_templates import JINJA, JobTemplate, Parameter, netbox_filter, validate_launch
from netoss.domain.jobs.runner import seal, templates


class LaunchError(Exception):
    """A launch refused before anything runs: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.problems = problems or []


CONFIRMED_FOR = 60.0  # seconds: what NetBox confirmed is trusted this long by the launches' checks
# What NetBox confirmed, by (endpoint, value key, filter): device names -> until when; or a whole
# list of choices (sites...) -> (until when, the list). Per process, shared by its threads.
CONFIRMED: dict[tuple, object] = {}
CONFIRMED_MAX = 100_000  # names (or lists) kept at most; then forgotten, and asked again


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def netbox_choices(param: Parameter, values: dict, wanted: list | None = None) -> list:
    """The allowed values of a parameter whose choices come from NetBox (dependent filters applied).

    ``wanted``: the values a launch gives. For a device picker, only those of them NetBox has (a
    hundred per call: a launch naming three devices does not read ten thousand); for another
    parameter, the whole list, which must hold them. What NetBox confirmed is trusted for
    CONFIRMED_FOR seconds under the same filter, so a storm of launches naming the same devices
    does not ask NetBox each time; a value it has not confirmed is asked every time (a device
    just added is found, one it does not have is refused). Without ``wanted`` (the form, the
    choices API) NetBox is asked."""
    spec = param.choices_from
    key = spec.get("value", "name")
    where = netbox_filter(param, values)
    ident = (spec["netbox"], key, _frozen(where))
    now = time.monotonic()
    if len(CONFIRMED) > CONFIRMED_MAX:
        CONFIRMED.clear()
    if wanted is not None:
        wanted = [w for w in wanted if isinstance(w, str | int) and not isinstance(w, bool)]
    if wanted is not None and picks_devices(param):
        known = CONFIRMED.setdefault(ident, {})
        if len(known) > CONFIRMED_MAX:
            known.clear()
        trusted = [w for w in wanted if known.get(w, 0.0) > now]
        ask = [w for w in wanted if known.get(w, 0.0) <= now]
        found = []
        if ask:
            endpoint = _netbox(param).endpoint(spec["netbox"])
            for start in range(0, len(ask), CHUNK):
                chunk = ask[start : start + CHUNK]
                found += [getattr(r, key) for r in endpoint.filter(**where, **{key: chunk})]
        until = now + CONFIRMED_FOR
        for value in found:
            known[value] = until
        return trusted + found
    cached = CONFIRMED.get((*ident, "list"))
    if wanted and cached is not None and cached[0] > now and all(w in cached[1] for w in wanted):
        return cached[1]
    choices = [getattr(r, key) for r in _netbox(param).endpoint(spec["netbox"]).filter(**where)]
    CONFIRMED[(*ident, "list")] = (now + CONFIRMED_FOR, choices)
    return choices


def _netbox(param: Parameter | None = None) -> NetBox:
    netbox = NetBox.from_config(context.config())
    if netbox is None:
        what = f"{param.name}: its choices come from NetBox" if param else "the devices come from NetBox"
        raise LaunchError(503, f"{what}, which the portal is not configured for")
    return netbox


# -- devices chosen by a filter ("all matching"), and the search behind the form's picker ------

CHUNK = 100  # names per NetBox query
MATCH_KEYS = ("site", "role", "tag", "q")  # q: in the device's name
DEVICE_FIELDS = "id,name,site,role,status"


def picks_devices(param: Parameter) -> bool:
    """Whether ``param`` chooses NetBox devices by name (the form offers the searchable picker,
    and a launch may give a filter, ``{"match": {...}}``, for all the devices it matches)."""
    spec = param.choices_from or {}
    return param.type == "multichoice" and spec.get("netbox") == "dcim.devices" and spec.get("value", "name") == "name"


def checked_match(name: str, value) -> dict:
    """The filter of ``{"match": {"site": ..., "role": ..., "tag": ..., "q": ...}}`` (at least
    one), else LaunchError(400) naming what is wrong."""
    if not isinstance(value, dict) or set(value) != {"match"} or not isinstance(value["match"], dict):
        raise LaunchError(400, f'{name}: a list of devices, or {{"match": {{site, role, tag, q}}}}')
    match = value["match"]
    for key in sorted(set(match) - set(MATCH_KEYS)):
        raise LaunchError(400, f"{name}.match.{key}: not a filter (they are: {', '.join(MATCH_KEYS)})")
    for key, text in match.items():
        if not isinstance(text, str) or not 0 < len(text) <= 100 or JINJA.search(text) or "\x00" in text:
            raise LaunchError(400, f"{name}.match.{key}: 1 to 100 characters, no template syntax")
    if not match:
        raise LaunchError(400, f"{name}.match: at least one of {', '.join(MATCH_KEYS)} (all devices: leave it empty)")
    return {k: match[k] for k in MATCH_KEYS if k in match}


def device_params(match: dict, base: dict | None = None) -> dict | None:
    """NetBox's device filter for a picker's ``match`` and a template's own filter ``base``
    (both hold: None when they name different values of one key, so nothing matches)."""
    out = dict(base or {})
    for key, value in match.items():
        key = "name__ic" if key == "q" else key
        if key in out and out[key] != value:
            return None
        out[key] = value
    return out


def search_devices(match: dict, offset: int, limit: int, base: dict | None = None) -> tuple[int, list[dict]]:
    """(how many devices match, ``limit`` of them from ``offset`` by name): NetBox filters and
    pages them. Each is {name, site, role, status}."""
    params = device_params(match, base)
    if params is None:
        return 0, []
    body = _netbox().get(
        "dcim/devices", params={**params, "ordering": "name", "offset": offset, "limit": limit, "fields": DEVICE_FIELDS}
    )
    slug = lambda record: (record or {}).get("slug")  # noqa: E731
    rows = [
        {"name": d["name"], "site": slug(d.get("site")), "role": slug(d.get("role")),
         "status": (d.get("status") or {}).get("value")}
        for d in body["results"]
    ]  # fmt: skip
    return body["count"], rows


FACETS = {"site": "dcim/sites", "role": "dcim/device-roles", "tag": "extras/tags"}


def device_facets() -> dict[str, list[tuple[str, str]]]:
    """What the picker filters by: NetBox's sites, device roles and tags, as (slug, name)."""
    netbox = _netbox()
    out = {}
    for key, path in FACETS.items():
        records = netbox.get_all(path, params={"limit": 1000, "fields": "slug,name", "ordering": "name"})
        out[key] = [(r["slug"], r["name"]) for r in records]
    return out


def matching_devices(param: Parameter, match: dict, values: dict) -> list[str]:
    """Every device name ``match`` selects, with the template's own filter (``{site}``...)."""
    params = device_params(match, netbox_filter(param, values))
    if params is None:
        return []
    records = _netbox().get_all("dcim/devices", params={**params, "ordering": "name", "limit": 1000, "fields": "name"})
    return [r["name"] for r in records]


def audit_detail(job: Job) -> dict:
    """What a launch's audit event records: the mode, the limit, and each device filter given."""
    filters = {k: v for k, v in (job.parameters or {}).items() if isinstance(v, dict) and "match" in v}
    return {"check": job.check_mode, "limit": job.limit, **filters}


def describe_match(match: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in match.items())


def _resolved(template: JobTemplate, values: dict, resolve) -> tuple[dict, dict, object]:
    """The launch's values with each device filter replaced by the devices it matches now;
    those lists by parameter; and the resolver that takes them as they are."""
    if not isinstance(values, dict):
        return values, {}, resolve
    out, matched = dict(values), {}
    for param in template.parameters:
        value = values.get(param.name)
        if not isinstance(value, dict):
            continue
        if not picks_devices(param):
            raise LaunchError(400, f"{param.name}: a filter ({{'match': ...}}) chooses devices only")
        match = checked_match(param.name, value)
        names = matching_devices(param, match, values)
        if not names:
            raise LaunchError(400, f"{param.name}: no device matches {describe_match(match)}")
        out[param.name], matched[param.name] = names, names

    def resolver(param, clean):
        if param.name in matched:
            return matched[param.name]
        if resolve is not None:
            return resolve(param, clean)
        given = out.get(param.name)
        wanted = given if isinstance(given, list) else None if given in (None, "") else [given]
        return netbox_choices(param, clean, wanted)

    return out, matched, resolver


def _limit(template: JobTemplate, clean: dict, resolve) -> str | None:
    if not template.limit:
        return None
    param = template.parameter(template.limit["parameter"])
    chosen = clean.get(param.name)
    if chosen:
        return ",".join(chosen if isinstance(chosen, list) else [chosen])
    if param.choices_from and netbox_filter(param, clean):
        # e.g. a site but no devices: every device of the site
        devices = resolve(param, clean)
        if not devices:
            raise LaunchError(400, f"{param.name}: no device matches the other parameters")
        return ",".join(devices)
    return None


def checked(user: User, name: str, values: dict, check: bool, resolve=None) -> tuple[JobTemplate, dict, dict]:
    """The template, the clean values of a launch (or a schedule) that ``user`` may make (a
    device filter kept as it was given: ``{"match": {...}}``), and the devices each filter
    matches now; LaunchError, with the HTTP status to answer, says what is wrong."""
    template = templates(context.current()).get(name)
    if template is None:
        raise LaunchError(404, f"no job template {name!r}")
    if not template.allowed(user.role):
        raise LaunchError(403, f"template {name!r} is not allowed for the {user.role} role")
    if check and template.check_mode == "never":
        raise LaunchError(400, f"template {name!r} cannot run in check mode")
    if not check and template.check_mode == "allowed" and not template.may_apply(user.role):
        raise LaunchError(
            403,
            f"template {name!r} runs outside check mode only for the {', '.join(template.apply_roles)} role(s): "
            f"run it in check mode, and ask one of them to approve it by applying",
        )
    resolved, matched, resolver = _resolved(template, values, resolve)
    clean, problems = validate_launch(template, resolved, resolver)
    if problems:
        raise LaunchError(400, "invalid parameters: " + "; ".join(problems), problems)
    for param_name in matched:
        clean[param_name] = {"match": checked_match(param_name, values[param_name])}
    return template, clean, matched


def launch(
    user: User, name: str, values: dict, check: bool, enqueue, resolve=None, ticket_id: int | None = None
) -> Job:
    """Check and record a launch, then hand it to ``enqueue(job, sealed_secrets)``.

    ``ticket_id`` links the job to the ticket it was launched from (a remediation): the job
    appears in the ticket's timeline, and the ticket gets a note."""
    ticket = None
    if ticket_id is not None:
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is None:
            raise LaunchError(400, f"ticket: no ticket {ticket_id}")
    template, clean, matched = checked(user, name, values, check, resolve)
    secrets = {p.name: clean.pop(p.name) for p in template.parameters if p.type == "secret" and p.name in clean}
    shown = dict(clean, **{name: "********" for name in secrets})
    job = Job(
        template=name,
        parameters=shown,  # a device filter as it was given; the devices it matched are the limit
        check_mode=bool(check or template.check_mode == "always"),
        limit=_limit(template, dict(clean, **matched), resolve or netbox_choices),
        created_by=user.username,
        ticket_id=ticket.id if ticket else None,
    )
    db.session.add(job)
    db.session.flush()
    if ticket is not None:
        mode = " in check mode" if job.check_mode else ""
        db.session.add(
            TicketNote(ticket_id=ticket.id, author=user.username,
                       text=f"Job {job.id} ({name}{mode}, limit {job.limit or 'all'}) launched from this ticket.")
        )  # fmt: skip
    # The job as written stays loaded: reading it back after the commit would be one more query
    # per launch (this request wrote it; nothing else has changed it yet).
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    try:
        enqueue(job, seal(context.current(), secrets))
    except Exception as exc:
        job.status, job.error = "error", f"the job queue is unavailable: {exc}"
        db.session.commit()
        raise LaunchError(503, job.error) from None
    return job
