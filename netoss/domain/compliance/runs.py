"""Compliance runs in the portal's database: recording them, and the views the API, the pages
and the CLI share (each device's latest results, a feature's history, the heat map, the
percentage over time, a run's report).

- A run has one row per device and feature (``compliance_results``) holding the rules that
  are not plainly compliant; a device that could not be checked has one row, feature ''.
- ``compliance_devices`` points at each device's latest run, so "the fleet now" is one
  indexed join however long the history is.
- Rows go in with one multi-row insert per table: a run of 10,000 devices x 8 features is
  80,000 rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import jsonschema
from sqlalchemy import Text, and_, case, cast, delete, func, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from netoss.data.db import db
from netoss.data.models import Alarm, ComplianceDevice, ComplianceResult, ComplianceRun, Job, iso, utcnow
from netoss.domain.compliance.alarms import CONDITION, alarm_events
from netoss.domain.compliance.schema import DEVICE_RESULT, FEATURE, RULE, SCHEMA, STATUSES
from netoss.domain.faults.events import Event

MAX_ERRORS = 10  # validation problems listed in one answer
INSERT_CHUNK = 5000  # rows per multi-row insert (PostgreSQL takes at most 65,535 parameters per statement)
PROBLEMS = ("non-compliant", "error")
RULE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,99}$")  # what the rules column keeps and a rule filter takes
NAME = re.compile(r"^[^|\s]{1,100}$")  # a device, site, role or platform in a filter (schema.DEVICE)


class InvalidRun(ValueError):
    """A run that cannot be recorded; the message names each field that is wrong."""


@dataclass
class Recorded:
    """A recorded run and the alarm events it calls for (queued by the caller, after the commit)."""

    run: ComplianceRun
    events: list[Event] = field(default_factory=list)


_validator = jsonschema.Draft202012Validator(SCHEMA)


def _path_key(error) -> list:
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.path]


def _where(path: Iterable) -> str:
    return ".".join(str(p) for p in path) or "body"


def _time(value: str, name: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value)
        return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise InvalidRun(f"{name}: {value[:40]!r} is not an ISO 8601 date and time") from None


def device_status(device: dict) -> str:
    """A device's status from its features (as the engine derives it), else the one it was given."""
    statuses = set((device.get("features") or {}).values())
    if not statuses:
        return device["status"]
    if "error" in statuses:
        return "error"
    if "non-compliant" in statuses:
        return "non-compliant"
    return "exempt" if statuses == {"exempt"} else "compliant"


def _unstorable(value, path=()) -> str | None:
    """The first string (or key) of ``value`` PostgreSQL cannot store: a NUL, or half a surrogate pair."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{_where(path)}: holds a NUL character"
        try:
            value.encode()
        except UnicodeEncodeError:
            return f"{_where(path)}: is not valid Unicode (a lone surrogate)"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable(key, (*path, key)) or _unstorable(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _unstorable(item, (*path, i))
            if found:
                return found
    return None


_DEVICE_KEYS = frozenset(DEVICE_RESULT["properties"])
_RULE_KEYS = frozenset(RULE["properties"])
_STATUS_SET = frozenset(STATUSES)
_DEVICE_NAME = re.compile(DEVICE_RESULT["properties"]["device"]["pattern"])
_FEATURE = re.compile(FEATURE["pattern"])
_RULE_TEXT = ("missing", "extra", "message", "kind", "diff")


def _status(value) -> bool:
    return isinstance(value, str) and value in _STATUS_SET


def _short_string(value, most: int, least: int = 0) -> bool:
    return isinstance(value, str) and least <= len(value) <= most


def _plainly_valid_device(d) -> bool:
    """True when ``d`` is valid under the schema's DEVICE_RESULT, checked by hand (the schema's
    own checks, keyword by keyword, with its limits); False when unsure: jsonschema then says
    what is wrong. A fleet's run is 10,000 of them, which jsonschema takes seconds over."""
    props = DEVICE_RESULT["properties"]
    if type(d) is not dict or not _DEVICE_KEYS.issuperset(d) or "device" not in d or "status" not in d:
        return False
    name = d["device"]
    if not _short_string(name, 64, 1) or not _DEVICE_NAME.search(name) or not _status(d["status"]):
        return False
    for key in ("platform", "site", "role", "error"):
        if key in d and not _short_string(d[key], props[key]["maxLength"]):
            return False
    features = d.get("features", {})
    if type(features) is not dict or len(features) > props["features"]["maxProperties"]:
        return False
    for feature, status in features.items():
        if not _FEATURE.search(feature) or not _status(status):
            return False
    rules = d.get("rules", [])
    if type(rules) is not list or len(rules) > props["rules"]["maxItems"]:
        return False
    rule_props = RULE["properties"]
    for r in rules:
        if type(r) is not dict or not _RULE_KEYS.issuperset(r) or not {"feature", "rule", "status"} <= r.keys():
            return False
        if not (isinstance(r["feature"], str) and _FEATURE.search(r["feature"])) or not _status(r["status"]):
            return False
        if not _short_string(r["rule"], rule_props["rule"]["maxLength"], 1):
            return False
        if "compliant" in r and type(r["compliant"]) is not bool:
            return False
        for key in _RULE_TEXT:
            if key in r and not _short_string(r[key], rule_props[key]["maxLength"]):
                return False
        if "remediation" in r:
            commands = r["remediation"]
            if type(commands) is not list or len(commands) > rule_props["remediation"]["maxItems"]:
                return False
            most = rule_props["remediation"]["items"]["maxLength"]
            if not all(_short_string(c, most) for c in commands):
                return False
    return True


def _schema_errors(payload: dict):
    """jsonschema's errors of ``payload`` against SCHEMA. When every device is plainly valid
    (:func:`_plainly_valid_device`), only the rest of the run goes through jsonschema (with its
    first device, so an empty list is still refused as it is): the same verdict, in a fraction of
    the time; otherwise the whole run does, for the same messages as ever."""
    devices = payload.get("devices")
    if (
        isinstance(devices, list)
        and 1 <= len(devices) <= SCHEMA["properties"]["devices"]["maxItems"]
        and all(_plainly_valid_device(d) for d in devices)
    ):
        return list(_validator.iter_errors({**payload, "devices": devices[:1]}))
    return list(_validator.iter_errors(payload))


def validate(payload) -> None:
    """Raise InvalidRun naming every field (up to 10) that makes ``payload`` not a run."""
    if not isinstance(payload, dict):
        raise InvalidRun("body: a JSON object is needed (Content-Type: application/json)")
    errors = sorted(_schema_errors(payload), key=_path_key)
    problems = [f"{_where(e.path)}: {e.message[:300]}" for e in errors]
    if not problems:
        try:
            text = json.dumps(payload, ensure_ascii=False)
            text.encode()  # a lone surrogate raises here
            suspect = "\\u0000" in text
        except UnicodeEncodeError:
            suspect = True
        unstorable = _unstorable(payload) if suspect else None  # the slow walk only to say where
        if unstorable:
            raise InvalidRun(unstorable)
    if not problems:
        for name in ("started_at", "finished_at"):
            try:
                _time(payload[name], name)
            except InvalidRun as exc:
                problems.append(str(exc))
        features: dict[str, int] = {}
        for i, feature in enumerate(payload["policy"]["features"]):
            if feature["name"] in features:
                problems.append(
                    f"policy.features.{i}.name: {feature['name']!r} is also policy.features.{features[feature['name']]}"
                )
            features.setdefault(feature["name"], i)
        seen: dict[str, int] = {}
        for i, device in enumerate(payload["devices"]):
            name = device["device"]
            if name in seen:
                problems.append(f"devices.{i}.device: {name!r} is also devices.{seen[name]}")
            seen.setdefault(name, i)
            checked = device.get("features") or {}
            for feature in checked:
                if feature not in features:
                    problems.append(f"devices.{i}.features.{feature}: not a feature of the policy (policy.features)")
            for j, rule in enumerate(device.get("rules") or []):
                if rule["feature"] not in checked:
                    problems.append(
                        f"devices.{i}.rules.{j}.feature: {rule['feature']!r} is not in the device's features"
                    )
            if checked and device_status(device) != device["status"]:
                problems.append(
                    f"devices.{i}.status: {device['status']!r}, but its features make it {device_status(device)!r}"
                )
            if len(problems) > MAX_ERRORS:
                break
    if problems:
        more = len(problems) - MAX_ERRORS
        raise InvalidRun("; ".join(problems[:MAX_ERRORS]) + (f"; and {more} more" if more > 0 else ""))


def summarize(devices: list[dict], expired_exceptions: list[str] | None = None) -> dict:
    """The counts of a run (as the engine's ``summarize``): devices and (device, feature) pairs
    by status, per feature, and the percentage of checked pairs that are compliant (exempt
    pairs and errors are not counted in it)."""
    by_status = dict.fromkeys(STATUSES, 0)
    pairs = dict.fromkeys(STATUSES, 0)
    features: dict[str, dict] = {}
    for device in devices:
        by_status[device_status(device)] += 1
        for feature, status in (device.get("features") or {}).items():
            pairs[status] += 1
            features.setdefault(feature, dict.fromkeys(STATUSES, 0))[status] += 1
    return {
        "devices": len(devices),
        "by_status": by_status,
        "pairs": pairs,
        "features": features,
        "percent": percent(pairs),
        "expired_exceptions": list(expired_exceptions or []),
    }


def percent(pairs: dict) -> float:
    """The compliant share of the checked pairs, in percent (100.0 when none was checked)."""
    checked = pairs.get("compliant", 0) + pairs.get("non-compliant", 0)
    return round(100.0 * pairs.get("compliant", 0) / checked, 2) if checked else 100.0


def rule_names(details: list) -> str:
    """The rules of ``details`` that are not compliant, as the rules column keeps them: "|a|b|"
    (a rule filter is then a LIKE '%|a|%'); '' when there is none."""
    names = [r["rule"] for r in details if r.get("status") in PROBLEMS and RULE_NAME.match(r.get("rule") or "")]
    return "|" + "|".join(names) + "|" if names else ""


def _alarmed(names: set[str]) -> set[tuple[str, str]]:
    """(device, feature) pairs of ``names`` whose compliance alarm may be active: it is, or the
    device's latest run found the feature not compliant (its raise may still be queued)."""
    pairs = set()
    active = select(Alarm.device, Alarm.condition).where(
        Alarm.active_key.is_not(None), Alarm.condition.like(f"{CONDITION}%")
    )
    for device, condition in db.session.execute(active):
        if device in names:
            pairs.add((device, condition[len(CONDITION) :]))
    failing = (
        select(ComplianceResult.device, ComplianceResult.feature)
        .join(ComplianceDevice, _latest_join())
        .where(ComplianceResult.status == "non-compliant")
    )
    pairs.update((d, f) for d, f in db.session.execute(failing) if d in names)
    return pairs


def _latest_join():
    return and_(ComplianceDevice.run_id == ComplianceResult.run_id, ComplianceDevice.device == ComplianceResult.device)


_POINTER = ("run_id", "platform", "status", "error", "site", "role")


def _copy(table: str, rows: list[dict], json_columns: tuple = ()) -> None:
    """COPY ``rows`` (dicts with the same keys) into ``table``, in the session's transaction:
    PostgreSQL's bulk load, some 20 times faster than one INSERT per row as executemany sends."""
    from psycopg import sql
    from psycopg.types.json import Json

    columns = list(rows[0])
    json_at = [i for i, c in enumerate(columns) if c in json_columns]
    raw = db.session.connection().connection.driver_connection
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[c] for c in columns]
            for i in json_at:
                values[i] = Json(values[i])
            copy.write_row(values)


def _insert_results(rows: list[dict]) -> None:
    """Insert a run's result rows: COPY on PostgreSQL, multi-row inserts elsewhere."""
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _copy(ComplianceResult.__tablename__, rows, json_columns=("details",))
        return
    for i in range(0, len(rows), INSERT_CHUNK):
        db.session.execute(insert(ComplianceResult), rows[i : i + INSERT_CHUNK])


def _point_at(rows: list[dict]) -> None:
    """Make ``rows`` each device's latest run (an upsert where the database has one; on
    PostgreSQL the rows are copied into a temporary table and upserted from it in one statement)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(
            text("CREATE TEMP TABLE compliance_pointers (LIKE compliance_devices INCLUDING DEFAULTS) ON COMMIT DROP")
        )
        _copy("compliance_pointers", rows)
        columns = ", ".join(["device", *_POINTER])
        updates = ", ".join(f"{c} = excluded.{c}" for c in _POINTER)
        db.session.execute(
            text(
                f"INSERT INTO compliance_devices ({columns}) SELECT {columns} FROM compliance_pointers "  # noqa: S608 - our own column names
                f"ON CONFLICT (device) DO UPDATE SET {updates}"
            )
        )
        db.session.execute(text("DROP TABLE compliance_pointers"))
        return
    if dialect == "sqlite":
        stmt = sqlite_insert(ComplianceDevice)
        stmt = stmt.on_conflict_do_update(index_elements=["device"], set_={c: stmt.excluded[c] for c in _POINTER})
        for i in range(0, len(rows), INSERT_CHUNK):
            db.session.execute(stmt, rows[i : i + INSERT_CHUNK])
        return
    names = [r["device"] for r in rows]
    for i in range(0, len(names), 1000):
        db.session.execute(delete(ComplianceDevice).where(ComplianceDevice.device.in_(names[i : i + 1000])))
    db.session.execute(insert(ComplianceDevice), rows)


def record_run(payload: dict, user) -> Recorded:
    """Validate ``payload`` (InvalidRun says what is wrong), store it as ``user`` and commit.

    Returns the run and the alarm events it calls for (:func:`~netoss.domain.compliance.alarms.alarm_events`;
    clears only for the features whose alarm may be active), for the caller to queue: the run
    is kept even when the fault queue is away.
    """
    validate(payload)
    job_id = payload.get("job_id")
    if job_id is not None and db.session.get(Job, job_id) is None:
        raise InvalidRun(f"job_id: no job {job_id}")
    devices = payload["devices"]
    alarmed = _alarmed({d["device"] for d in devices})  # before this run becomes the latest
    summary = summarize(devices, (payload.get("summary") or {}).get("expired_exceptions"))
    run = ComplianceRun(
        job_id=job_id,
        source=payload["source"],
        started_at=_time(payload["started_at"], "started_at"),
        finished_at=_time(payload["finished_at"], "finished_at"),
        recorded_at=utcnow(),
        recorded_by=user.username,
        percent=summary["percent"],
        summary=summary,
        policy=payload["policy"],
        device_count=len(devices),
    )
    db.session.add(run)
    db.session.flush()
    results, pointers = [], []
    for d in devices:
        common = {"run_id": run.id, "device": d["device"], "platform": d.get("platform") or "",
                  "site": d.get("site") or "", "role": d.get("role") or ""}  # fmt: skip
        error = d.get("error") or None
        rules: dict[str, list] = {}
        for rule in d.get("rules") or []:
            rules.setdefault(rule["feature"], []).append(rule)
        features = d.get("features") or {"": d["status"]}
        for feature, status in features.items():
            details = rules.get(feature, [])
            results.append({**common, "feature": feature, "status": status, "details": details, "error": error,
                            "rules": rule_names(details)})  # fmt: skip
        pointers.append({**common, "status": device_status(d), "error": error})
    _insert_results(results)
    _point_at(pointers)
    db.session.commit()
    return Recorded(run, alarm_events(payload, run.id, alarmed))


# -- reading ----------------------------------------------------------------------------------


def natural(name: str) -> list:
    """Sort key: pe2 before pe10."""
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name))]


def _feature_order(run_ids: Iterable[int]) -> list[str]:
    """The features of these runs' policies: the newest run's in its order, then the others'."""
    ids = sorted(set(run_ids), reverse=True)
    if not ids:
        return []
    order: list[str] = []
    found = db.session.execute(select(ComplianceRun.id, ComplianceRun.policy).where(ComplianceRun.id.in_(ids)))
    policies = {run_id: policy for run_id, policy in found}
    for run_id in ids:
        for f in (policies.get(run_id) or {}).get("features", []):
            if f["name"] not in order:
                order.append(f["name"])
    return order


def _sort_features(names: Iterable[str], order: list[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n))


_RESULT = (
    ComplianceResult.device,
    ComplianceResult.platform,
    ComplianceResult.feature,
    ComplianceResult.status,
    # As text, decoded by _details: most rows hold [], which needs no JSON parser.
    cast(ComplianceResult.details, Text).label("details"),
    ComplianceResult.error,
    ComplianceResult.site,
    ComplianceResult.role,
)


def _details(value) -> list:
    """A result row's details (JSON text, or already decoded)."""
    if isinstance(value, str):
        return [] if value in ("[]", "") else json.loads(value)
    return value or []


class InvalidFilter(ValueError):
    """A filter or page that cannot be applied; the message names the parameter."""


@dataclass(frozen=True)
class Filters:
    """What the lists of results filter on (each None: any), in the database:

    - ``device``: the device of that name; ``q``: devices whose name holds it (any case);
    - ``site``, ``role``, ``platform``: NetBox's slugs, as the run gave them;
    - ``status``: the device's status, or with ``feature`` that feature's status;
    - ``feature``: devices checked on that feature;
    - ``rule``: devices with that rule (``rule`` or ``feature/rule``) not compliant (or in error).
    """

    device: str | None = None
    q: str | None = None
    site: str | None = None
    role: str | None = None
    platform: str | None = None
    status: str | None = None
    feature: str | None = None
    rule: str | None = None

    def __post_init__(self):
        for name in ("device", "site", "role", "platform"):
            value = getattr(self, name)
            if value is not None and not NAME.match(value):
                raise InvalidFilter(f"{name}: {value[:40]!r} is not a name (1 to 100 characters, no space or '|')")
        if self.q is not None and len(self.q) > 64:
            raise InvalidFilter("q: a device name has 64 characters at most")
        if self.status is not None and self.status not in STATUSES:
            raise InvalidFilter(f"status must be one of {', '.join(STATUSES)}")
        if self.feature is not None and not FEATURE_NAME.match(self.feature):
            raise InvalidFilter(f"feature: {self.feature[:40]!r} is not a feature name (lower case, digits, dashes)")
        if self.rule is not None:
            feature, _slash, rule = self.rule.rpartition("/")
            if (feature and not FEATURE_NAME.match(feature)) or not RULE_NAME.match(rule):
                raise InvalidFilter(f"rule: {self.rule[:60]!r} is not a rule name, nor feature/rule")

    def any(self) -> bool:
        return any(getattr(self, f) is not None for f in self.__dataclass_fields__)

    def rows(self, table=ComplianceResult) -> list:
        """Conditions on result rows (or on compliance_devices, ``table``): names and slugs."""
        where = []
        if self.device is not None:
            where.append(table.device == self.device)
        if self.q:
            where.append(table.device.icontains(self.q, autoescape=True))
        for name in ("site", "role", "platform"):
            if getattr(self, name) is not None:
                where.append(getattr(table, name) == getattr(self, name))
        return where

    def results(self) -> list:
        """Conditions on result rows for feature, rule and (with feature) status."""
        where = []
        if self.feature is not None:
            where.append(ComplianceResult.feature == self.feature)
            if self.status is not None:
                where.append(ComplianceResult.status == self.status)
        if self.rule is not None:
            feature, _slash, rule = self.rule.rpartition("/")
            if feature:
                where.append(ComplianceResult.feature == feature)
            where.append(ComplianceResult.rules.contains(f"|{rule}|", autoescape=True))
            where.append(ComplianceResult.status.in_(PROBLEMS))
        return where


FEATURE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,52}$")  # schema.FEATURE


def _device_dict(rows: list, order: list[str], status: str | None = None) -> dict:
    """A device's rows of one run (with the _RESULT columns) as the run's JSON has it."""
    if len(rows) > 1:
        rank = {name: i for i, name in enumerate(order)}
        rows = sorted(rows, key=lambda r: (rank.get(r.feature, len(rank)), r.feature))
    features = {r.feature: r.status for r in rows if r.feature}
    first = rows[0]
    out = {
        "device": first.device,
        "platform": first.platform,
        "status": status or device_status({"features": features, "status": first.status}),
        "error": first.error or "",
        "features": features,
        "rules": [rule for r in rows for rule in _details(r.details)],
    }
    if first.site or first.role:
        out.update(site=first.site, role=first.role)
    return out


def _natural_page(names: Iterable[str], offset: int, limit: int | None) -> tuple[list[str], int]:
    """(the page of ``names`` in natural order, how many there are)."""
    every = sorted(set(names), key=natural)
    return every[offset : None if limit is None else offset + limit], len(every)


def _latest_names(filters: Filters) -> list[str]:
    """The devices whose latest results match ``filters`` (unordered)."""
    query = select(ComplianceDevice.device).where(*filters.rows(ComplianceDevice))
    if filters.status is not None and filters.feature is None:
        query = query.where(ComplianceDevice.status == filters.status)
    conditions = filters.results()
    if conditions:
        query = query.where(select(ComplianceResult.id).where(_latest_join(), *conditions).exists())
    return list(db.session.scalars(query))


def _latest_rows(names: list[str], every: bool = False) -> dict[str, list]:
    """The latest result rows of ``names`` (``every``: of every device, in one query), by
    device (with the device's status, run and start)."""
    by_device: dict[str, list] = {}
    query = (
        select(
            *_RESULT, ComplianceDevice.status.label("device_status"), ComplianceDevice.run_id, ComplianceRun.started_at
        )
        .select_from(ComplianceDevice)
        .join(ComplianceResult, _latest_join())
        .join(ComplianceRun, ComplianceRun.id == ComplianceDevice.run_id)
    )
    if every:
        for row in db.session.execute(query):
            by_device.setdefault(row.device, []).append(row)
        return by_device
    for i in range(0, len(names), 1000):
        for row in db.session.execute(query.where(ComplianceDevice.device.in_(names[i : i + 1000]))):
            by_device.setdefault(row.device, []).append(row)
    return by_device


def latest_page(filters: Filters | None = None, offset: int = 0, limit: int | None = None) -> tuple[list[dict], int]:
    """(a page of each device's results in the latest run that included it, how many devices
    match ``filters``): [{device, platform, status, error, features: {feature: status}, rules,
    run, started_at, site and role when known}], devices in natural order, features in the
    policy's order."""
    filters = filters or Filters()
    names, total = _natural_page(_latest_names(filters), offset, limit)
    by_device = _latest_rows(names, every=not filters.any() and offset == 0 and limit is None)
    order = _feature_order(rows[0].run_id for rows in by_device.values())
    out = []
    for name in names:
        rows = by_device.get(name)
        if not rows:  # a run recorded between the two queries moved it: it is in the next answer
            continue
        first = rows[0]
        out.append({**_device_dict(rows, order, first.device_status), "run": first.run_id,
                    "started_at": iso(first.started_at)})  # fmt: skip
    return out, total


def latest(device: str | None = None) -> list[dict]:
    """Each device's results in the latest run that included it (only ``device``'s when given),
    every device (see :func:`latest_page`)."""
    return latest_page(Filters(device=device) if device is not None else None)[0]


def _pairs(devices: Iterable[dict]) -> dict:
    pairs = dict.fromkeys(STATUSES, 0)
    for d in devices:
        for status in d["features"].values():
            pairs[status] += 1
    return pairs


def heatmap(
    query: str = "", problems: bool = False, offset: int = 0, limit: int = 200, filters: Filters | None = None
) -> dict:
    """Devices x features of the latest results, a page of devices at a time (natural order):
    {features, rows: [{device, platform, site, role, status, error, run, cells: {feature: status}}],
    total, offset, limit}. ``query`` keeps the devices whose name holds it; ``problems`` those
    not compliant; ``filters`` as :class:`Filters`."""
    filters = filters or Filters()
    if query:
        filters = Filters(**{**filters.__dict__, "q": query})
    names = _latest_names(filters)
    if problems:
        bad = set(db.session.scalars(select(ComplianceDevice.device).where(ComplianceDevice.status.in_(PROBLEMS))))
        names = [n for n in names if n in bad]
    page, total = _natural_page(names, offset, limit)
    pointers = {}
    cells: dict[str, dict] = {name: {} for name in page}
    for i in range(0, len(page), 1000):
        chunk = page[i : i + 1000]
        pointers.update(
            (p.device, p)
            for p in db.session.scalars(select(ComplianceDevice).where(ComplianceDevice.device.in_(chunk)))
        )
        rows = (
            select(ComplianceResult.device, ComplianceResult.feature, ComplianceResult.status)
            .join(ComplianceDevice, _latest_join())
            .where(ComplianceDevice.device.in_(chunk))
        )
        for device, feature, status in db.session.execute(rows):
            if feature:
                cells[device][feature] = status
    page = [name for name in page if name in pointers]
    order = _feature_order({pointers[name].run_id for name in page})
    features = _sort_features({f for c in cells.values() for f in c}, order)
    return {
        "features": features,
        "rows": [
            {
                "device": name,
                "platform": pointers[name].platform,
                "site": pointers[name].site,
                "role": pointers[name].role,
                "status": pointers[name].status,
                "error": pointers[name].error or "",
                "run": pointers[name].run_id,
                "cells": cells[name],
            }
            for name in page
        ],
        "total": total,
        "offset": offset,
        "limit": limit,
    }


def over_time(days: int = 30, limit: int = 100, now: dt.datetime | None = None) -> list[dict]:
    """The compliance percentage of each run of the last ``days`` days (the last ``limit`` of
    them), oldest first: [{run, started_at, percent, device_count, source}]."""
    since = (now or utcnow()) - dt.timedelta(days=days)
    runs = db.session.execute(
        select(ComplianceRun.id, ComplianceRun.started_at, ComplianceRun.percent, ComplianceRun.device_count,
               ComplianceRun.source)
        .where(ComplianceRun.started_at >= since)
        .order_by(ComplianceRun.started_at.desc(), ComplianceRun.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    return [
        {"run": i, "started_at": iso(s), "percent": p, "device_count": n, "source": src}
        for i, s, p, n, src in reversed(runs)
    ]


def history_page(device: str, feature: str | None = None, offset: int = 0, runs: int = 20) -> tuple[list[dict], int]:
    """(``device``'s results (of ``feature``, or all) in its runs ``offset`` to ``offset + runs``,
    newest first: [{run, started_at, source, job_id, feature, status, rules, error}], how many
    runs the device has (of ``feature``))."""
    recent = select(ComplianceResult.run_id).where(ComplianceResult.device == device)
    if feature is not None:
        recent = recent.where(ComplianceResult.feature == feature)
    total = db.session.scalar(select(func.count()).select_from(recent.distinct().subquery()))
    ids = list(
        db.session.scalars(recent.distinct().order_by(ComplianceResult.run_id.desc()).offset(offset).limit(runs))
    )
    if not ids:
        return [], total or 0
    query = (
        select(ComplianceResult, ComplianceRun)
        .join(ComplianceRun, ComplianceRun.id == ComplianceResult.run_id)
        .where(ComplianceResult.device == device, ComplianceResult.run_id.in_(ids))
    )
    if feature is not None:
        query = query.where(ComplianceResult.feature == feature)
    rows = db.session.execute(query).all()
    order = _feature_order(ids)
    rows.sort(key=lambda rr: (-rr[0].run_id, order.index(rr[0].feature) if rr[0].feature in order else len(order)))
    return [
        {"run": run.id, "started_at": iso(run.started_at), "source": run.source, "job_id": run.job_id,
         "feature": r.feature, "status": r.status, "rules": r.details or [], "error": r.error or ""}
        for r, run in rows
    ], total  # fmt: skip


def history(device: str, feature: str | None = None, runs: int = 20) -> list[dict]:
    """``device``'s results (of ``feature``, or all) in its last ``runs`` runs, newest first."""
    return history_page(device, feature, 0, runs)[0]


def list_runs(limit: int = 50, offset: int = 0) -> list[ComplianceRun]:
    """Runs, newest first."""
    query = select(ComplianceRun).order_by(ComplianceRun.id.desc()).offset(offset).limit(limit)
    return list(db.session.scalars(query))


def count_runs() -> int:
    """How many runs there are."""
    return db.session.scalar(select(func.count(ComplianceRun.id))) or 0


def _run_names(run_id: int, problems: bool, filters: Filters) -> list[str]:
    """The devices of run ``run_id`` that match (unordered)."""
    query = select(ComplianceResult.device).where(ComplianceResult.run_id == run_id, *filters.rows())
    query = query.where(*filters.results())
    if problems:
        query = query.where(ComplianceResult.status.in_(PROBLEMS))
    if filters.status is not None and filters.feature is None:
        # The device's status in the run, from its rows as device_status derives it.
        errors = func.sum(case((ComplianceResult.status == "error", 1), else_=0))
        failing = func.sum(case((ComplianceResult.status == "non-compliant", 1), else_=0))
        checked = func.sum(case((ComplianceResult.status != "exempt", 1), else_=0))
        having = {
            "error": errors > 0,
            "non-compliant": and_(errors == 0, failing > 0),
            "exempt": checked == 0,
            "compliant": and_(errors == 0, failing == 0, checked > 0),
        }[filters.status]
        status = (
            select(ComplianceResult.device)
            .where(ComplianceResult.run_id == run_id)
            .group_by(ComplianceResult.device)
            .having(having)
        )
        query = query.where(ComplianceResult.device.in_(status))
    return list(db.session.scalars(query.distinct()))


def run_report(
    run_id: int, problems: bool = False, offset: int = 0, limit: int | None = None, filters: Filters | None = None
) -> dict | None:
    """A run's report: the run, its summary and policy, and every device with the status of
    each feature and the rules that are not plainly compliant (devices in natural order).

    ``problems`` keeps the devices that are not compliant (or could not be checked);
    ``filters`` (:class:`Filters`) those that match; ``offset`` and ``limit`` take a page of
    the devices, and ``page`` says which of how many.
    """
    run = db.session.get(ComplianceRun, run_id)
    if run is None:
        return None
    filters = filters or Filters()
    paged = problems or offset or limit is not None or filters.any()
    rows = select(*_RESULT).where(ComplianceResult.run_id == run_id)
    by_device: dict[str, list] = {}
    if not paged:
        for r in db.session.execute(rows):
            by_device.setdefault(r.device, []).append(r)
        names, total = sorted(by_device, key=natural), len(by_device)
    else:
        names, total = _natural_page(_run_names(run_id, problems, filters), offset, limit)
        for i in range(0, len(names), 1000):
            for r in db.session.execute(rows.where(ComplianceResult.device.in_(names[i : i + 1000]))):
                by_device.setdefault(r.device, []).append(r)
    order = [f["name"] for f in (run.policy or {}).get("features", [])]
    report = {
        **run.to_dict(),
        "summary": run.summary,
        "policy": run.policy,
        "devices": [_device_dict(by_device[name], order) for name in names],
    }
    if paged:
        report["page"] = {"offset": offset, "limit": limit, "total": total}
    return report


def fleet() -> dict:
    """The counts of the latest results: devices and (device, feature) pairs by status, and the
    percentage of checked pairs that are compliant (None before any run)."""
    pairs = dict.fromkeys(STATUSES, 0)
    by_status = dict.fromkeys(STATUSES, 0)
    counted = (
        select(ComplianceResult.status, func.count(ComplianceResult.id))
        .join(ComplianceDevice, _latest_join())
        .where(ComplianceResult.feature != "")
        .group_by(ComplianceResult.status)
    )
    for status, n in db.session.execute(counted):
        pairs[status] = n
    for status, n in db.session.execute(
        select(ComplianceDevice.status, func.count(ComplianceDevice.device)).group_by(ComplianceDevice.status)
    ):
        by_status[status] = n
    total = sum(by_status.values())
    return {"percent": percent(pairs) if total else None, "devices_total": total, "by_status": by_status,
            "pairs": pairs}  # fmt: skip


def _latest_features() -> list[str]:
    """The features of the latest results, in the policy's order."""
    names = db.session.scalars(
        select(ComplianceResult.feature).join(ComplianceDevice, _latest_join()).where(ComplianceResult.feature != "")
        .distinct()
    )  # fmt: skip
    runs = db.session.scalars(select(ComplianceDevice.run_id).distinct())
    return _sort_features(set(names), _feature_order(runs))


def overview(days: int = 30, device: str | None = None, offset: int = 0, limit: int | None = None) -> dict:
    """The fleet now (each device's latest results), its percentage, the latest run, and the
    percentage of each run over the last ``days`` days.

    With ``device``, the counts are that device's; else they are the fleet's (counted in the
    database) and ``devices`` is the page ``offset``/``limit`` of them (every device without a
    limit), ``devices_page`` says which of how many."""
    last = db.session.scalars(select(ComplianceRun).order_by(ComplianceRun.id.desc()).limit(1)).first()
    if device is not None:
        devices = latest(device)
        pairs = _pairs(devices)
        by_status = dict.fromkeys(STATUSES, 0)
        for d in devices:
            by_status[d["status"]] += 1
        counts = {"percent": percent(pairs) if devices else None, "devices_total": len(devices),
                  "by_status": by_status, "pairs": pairs}  # fmt: skip
        features = _sort_features({f for d in devices for f in d["features"]},
                                  _feature_order(d["run"] for d in devices))  # fmt: skip
        page = None
    else:
        counts = fleet()
        devices, total = latest_page(None, offset, limit)
        features = _latest_features()
        page = {"offset": offset, "limit": limit, "total": total}
    out = {
        **counts,
        "features": features,
        "latest_run": last.to_dict() if last else None,
        "devices": devices,
        "over_time": over_time(days),
    }
    if page is not None and (offset or limit is not None):
        out["devices_page"] = page
    return out
