"""The API's declarations, written once: the decorators below both do what they declare (check
the role, validate the body and the query) and record it on the operation, and flask-smorest
(apispec) generates /api/openapi.json from the blueprints' routes and those records.

- ``require_role`` (netoss.web.security) checks the role and records ``x-required-role``;
- ``body`` validates the JSON body against a JSON Schema of ``SCHEMAS`` (a component of the
  document) or one kept in the domain, and passes it to the view;
- ``query`` parses and bounds the query arguments, and passes them to the view as ``args``;
- ``responds`` and ``fails`` document what the view answers (its schema, its error statuses).

Errors keep the portal's shape everywhere: ``{"error": "...", "status": N}`` (netoss.web's
handlers; flask-smorest's own error handler and error schema are not used).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import flask_smorest
import jsonschema
from flask import abort, request
from flask_smorest.spec.plugins import FlaskPlugin

from netoss.web.schemas import SCHEMAS

ERROR = {"$ref": "#/components/schemas/Error"}


def ref(name: str) -> dict:
    """A reference to a component schema of the document."""
    assert name in SCHEMAS, name
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def record(view, **doc):
    """Merge ``doc`` into the operation documented for ``view`` (flask-smorest's ``_apidoc``)."""
    apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(manual.get(key), dict):
            manual[key] = {**value, **manual[key]}  # the inner decorator's entries win
        elif isinstance(value, list) and isinstance(manual.get(key), list):
            manual[key] = manual[key] + [v for v in value if v not in manual[key]]
        else:
            manual.setdefault(key, value)
    view._apidoc = apidoc
    return view


def _wraps(view):
    """functools.wraps that does not share the wrapped view's ``_apidoc`` (it is copied)."""

    def decorate(inner):
        inner = functools.wraps(view)(inner)
        if hasattr(view, "_apidoc"):
            inner._apidoc = copy.deepcopy(view._apidoc)
        return inner

    return decorate


# -- bodies ------------------------------------------------------------------------------------


def _where(error) -> str:
    return ".".join(str(p) for p in error.path)[:80] or "body"


def _short(message: str) -> str:
    return message if len(message) <= 120 else message[:120] + "…"


def validated(schema: dict, data) -> dict:
    """``data`` if it is a JSON object valid against ``schema``; else 400 naming each bad field
    (at most five), jsonschema's message cut short (it quotes the value)."""
    if not isinstance(data, dict):
        abort(400, "the body must be a JSON object (Content-Type: application/json)")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: e.path)
    if errors:
        abort(400, "; ".join(f"{_where(e)}: {_short(e.message)}" for e in errors[:5]))
    return data


def body(schema: str | dict, *, required: bool = True, check: bool = True, message: str | None = None):
    """Decorator: the request's JSON body is ``schema`` (a name in SCHEMAS, or a JSON Schema the
    domain keeps and validates with, such as the service order's or the compliance run's).

    With ``check`` (the default) the body is validated here and passed to the view as its first
    argument; ``message`` replaces the list of problems in the 400. Without ``check`` the view
    hands the raw body to the domain, which validates it against the same schema (and answers
    with its own problem lists). With ``required=False`` an empty body is ``{}``.
    """
    doc_schema = ref(schema) if isinstance(schema, str) else schema
    real = SCHEMAS[schema] if isinstance(schema, str) else schema

    def wrap(view):
        if not check:
            inner = view
        else:

            @_wraps(view)
            def inner(*args, **kwargs):
                data = {} if not required and not request.content_length else request.get_json(silent=True)
                if message is not None:
                    if not isinstance(data, dict) or any(jsonschema.Draft202012Validator(real).iter_errors(data)):
                        abort(400, message)
                else:
                    validated(real, data)
                return view(data, *args, **kwargs)

        return record(
            inner,
            requestBody={"required": required, **json_content(doc_schema)},
            responses={"400": {"description": "Invalid input: the message names the field", **json_content(ERROR)}},
        )

    return wrap


# -- query arguments ---------------------------------------------------------------------------


def bounded_int(value, name: str, low: int, high: int) -> int:
    """``value`` (text) as an integer in low..high, else 400 naming ``name`` (never 500 for a huge one)."""
    text = str(value).strip()
    if not (text.lstrip("-").isdigit() and len(text) <= 12 and text.isascii()):
        abort(400, f"{name} must be an integer from {low} to {high}")
    number = int(text)
    if not low <= number <= high:
        abort(400, f"{name} must be an integer from {low} to {high}")
    return number


@dataclass(frozen=True)
class Int:
    """An integer query argument in low..high (``default`` when absent); 400 names it otherwise."""

    low: int
    high: int
    default: int

    def schema(self) -> dict:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}

    def parse(self, name: str, text: str):
        return bounded_int(text, name, self.low, self.high)


@dataclass(frozen=True)
class Choice:
    """One of ``values``; 400 ("<name> must be one of ...") otherwise. Empty is absent."""

    values: tuple

    def schema(self) -> dict:
        return {"enum": list(self.values)}

    def parse(self, name: str, text: str):
        if text not in self.values:
            abort(400, f"{name} must be one of {', '.join(self.values)}")
        return text


@dataclass(frozen=True)
class Text:
    """A string passed to the view as it is: ``enum`` documents the values that mean something,
    and the view or the domain says what another does (for a filter: selects nothing); longer
    than ``max_length``: 400 naming it."""

    enum: tuple | None = None
    max_length: int | None = None

    def schema(self) -> dict:
        if self.enum:
            return {"enum": list(self.enum)}
        return {"type": "string", **({"maxLength": self.max_length} if self.max_length else {})}

    def parse(self, name: str, text: str):
        if self.max_length is not None and len(text) > self.max_length:
            abort(400, f"{name} must have {self.max_length} characters at most")
        return text


def query(**params):
    """Decorator: the query arguments ``params`` (name -> Int, Choice or Text; a name with a dot
    is given as ``name__part``), parsed and passed to the view as ``args`` (absent or empty:
    the Int's default, else None); an argument not declared is not passed."""
    names = {key.replace("__", "."): spec for key, spec in params.items()}

    def wrap(view):
        @_wraps(view)
        def inner(*a, **kwargs):
            args = {}
            for name, spec in names.items():
                text = request.args.get(name)
                if isinstance(spec, Int):
                    args[name] = spec.default if name not in request.args else spec.parse(name, request.args[name])
                else:
                    args[name] = spec.parse(name, text) if text else None
            return view(*a, args=args, **kwargs)

        parameters = [{"name": name, "in": "query", "schema": spec.schema()} for name, spec in names.items()]
        return record(
            inner,
            parameters=parameters,
            responses={"400": {"description": "Invalid input: the message names the field", **json_content(ERROR)}},
        )

    return wrap


def header(name: str, schema: dict, *, required: bool = False):
    """Decorator documenting a request header the view reads (and checks: its 400 names it)."""

    def wrap(view):
        return record(view, parameters=[{"name": name, "in": "header", "required": required, "schema": schema}])

    return wrap


# -- answers -----------------------------------------------------------------------------------


TOTAL_COUNT = {
    "X-Total-Count": {
        "description": "How many match the filters (the list is a page of them: offset, limit)",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def responds(status: int, schema: str | dict | None = None, *, description: str = "OK", content_type=None, total=False):
    """Decorator documenting the answer of the operation (views shape it from the domain);
    ``total``: a page of a list, with how many match in ``X-Total-Count`` (paging.listed)."""
    if isinstance(schema, str):
        schema = ref(schema)
    content = {content_type or "application/json": {"schema": schema} if schema is not None else {}}
    answer = {"description": description, "content": content, **({"headers": TOTAL_COUNT} if total else {})}

    def wrap(view):
        return record(view, responses={str(status): answer})

    return wrap


def many(name: str) -> dict:
    """An array of the component ``name``."""
    return {"type": "array", "items": ref(name)}


NOT_FOUND = "No such object"


def fails(**statuses: str):
    """Decorator documenting error answers: ``fails(s404="No such job", s409="...")``."""

    def wrap(view):
        return record(
            view,
            responses={key.lstrip("s"): {"description": text, **json_content(ERROR)} for key, text in statuses.items()},
        )

    return wrap


def role_doc(view, role: str):
    """Record on ``view`` the role ``require_role`` enforces (and the 401 and 403 it answers)."""
    return record(
        view,
        **{"x-required-role": role},
        responses={
            # Every request passes check_request (netoss.web.security) before its view: a NUL
            # byte or an over-long argument or header is a 400 naming it.
            "400": {"description": "Invalid input: the message names it", **json_content(ERROR)},
            "401": {"description": "No valid session or token", **json_content(ERROR)},
            "403": {"description": f"Needs the {role} role", **json_content(ERROR)},
        },
    )


def signed(view):
    """Decorator documenting an operation authenticated by a signature of its body (a git host's
    webhook), not by a session or a token: ``security: []``, ``x-authentication: signature``,
    and the 401 an unsigned or mis-signed call gets. The view checks the signature itself
    (netoss.domain.gitops.webhooks.verify); ``required_role`` is None."""
    view.required_role = None
    return record(
        view,
        security=[],
        **{"x-authentication": "signature"},
        responses={
            "400": {"description": "Invalid input: the message names it", **json_content(ERROR)},
            "401": {"description": "Unsigned, or not signed with the repository's secret", **json_content(ERROR)},
        },
    )


# -- the document ------------------------------------------------------------------------------


class _PathParameters(FlaskPlugin):
    """Path parameters on each operation (where the views' own parameters are), not on the path."""

    def path_helper(self, rule, operations, parameters, **kwargs):
        path = super().path_helper(rule, operations, [], **kwargs)
        own = self.rule_to_params(rule)
        for operation in operations.values():
            operation["parameters"] = own + list(operation.get("parameters", []))
        return path


class Api(flask_smorest.Api):
    """flask-smorest's Api, serving nothing itself (``api.openapi`` serves the document) and
    without its own error schema: errors are the portal's ``Error``."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self):
        pass

    def _register_pagination_header(self):
        pass  # the portal pages with limit and offset, not with flask-smorest's header

    def _register_error_handlers(self):
        pass  # netoss.web's handlers answer every error, in the portal's shape


DESCRIPTION = """The netoss portal's API: /api/v1 and the TM Forum Open APIs (TMF642 alarms, TMF621
trouble tickets, TMF641 service orders, TMF638 services) under /tmf-api.

Authentication: ``Authorization: Bearer <token>``, or the browser's session cookie (then a CSRF
token is needed on writes, in the X-CSRFToken header). The role each operation needs is its
``x-required-role`` (viewer < operator < engineer < admin). Every write is audited. Generated
from the routes and the decorators that enforce what it says."""


def init_app(app, blueprints, id_converter) -> Api:
    """Bind the API to ``app``: register ``blueprints`` ((blueprint, url_prefix) pairs) and
    their operations, and the component schemas; ids (``id_converter``) are integers."""
    app.config.setdefault("API_TITLE", "netoss portal API")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", None)  # served by api.openapi, at /api/openapi.json
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {"description": DESCRIPTION},
            "security": [{"token": []}],
            "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api = Api(app, spec_kwargs={"flask_plugin": _PathParameters()})
    api.register_converter(id_converter, lambda converter: {"type": "integer"})
    for name, schema in SCHEMAS.items():
        api.spec.components.schema(name, schema)
    for blueprint, prefix in blueprints:
        api.register_blueprint(blueprint, url_prefix=prefix)
    return api


def document(app) -> dict:
    """The OpenAPI document of ``app``'s API."""
    return app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
