"""The generated OpenAPI document says what the code does: every route of the APIs (/api/ and
/tmf-api/) is an operation of /api/openapi.json, with the role that guards it
(``x-required-role``, recorded by the decorator that enforces it), and that role is the one
enforced: one role lower gets 403 (anonymous gets 401), the role itself gets past the check.
The request bodies the document declares are the ones the views validate."""

from __future__ import annotations

import re

import pytest
from test_role_matrix import _url, app, no_outside_world  # noqa: F401 - app and no_outside_world are fixtures

from netoss.data.models import ROLES
from netoss.web.schemas import SCHEMAS

METHODS = ("get", "post", "put", "patch", "delete")


def _api_routes(app):  # noqa: F811
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/tmf-api/")) or rule.rule == "/api/openapi.json":
            continue
        path = re.sub(r"<(?:[^>:]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule, path, method.lower()))
    return out


@pytest.fixture(scope="module")
def doc(app):  # noqa: F811
    resp = app.test_client().get("/api/openapi.json")
    assert resp.status_code == 200
    return resp.get_json()


def test_every_api_route_is_documented_with_the_role_its_view_enforces(app, doc):  # noqa: F811
    routes = _api_routes(app)
    assert len(routes) >= 40
    for rule, path, method in routes:
        operation = doc["paths"].get(path, {}).get(method)
        assert operation is not None, f"{method.upper()} {path} is not in the document"
        view = app.view_functions[rule.endpoint]
        if view.required_role is None:  # a webhook: its body's signature, not a session or a token
            assert operation["x-authentication"] == "signature" and operation["security"] == [], (method, path)
            assert "401" in operation["responses"], (method, path)
            continue
        assert operation["x-required-role"] == view.required_role, (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
    # Nothing documented that is not a route.
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops if m in METHODS}
    assert documented == {(path, method) for _rule, path, method in routes}


def _token(app, role):  # noqa: F811
    return app.config["MATRIX_TOKENS"][role]


def test_the_documented_role_is_the_one_enforced(app, doc):  # noqa: F811
    client = app.test_client()
    checked = 0
    for rule, path, method in _api_routes(app):
        if doc["paths"][path][method].get("x-authentication") == "signature":
            with client.open(_url(rule), method=method.upper(), json={}) as resp:  # unsigned: refused
                assert resp.status_code in (400, 401, 404), f"{method.upper()} {path} unsigned: {resp.status_code}"
            continue
        role = doc["paths"][path][method]["x-required-role"]
        url = _url(rule)
        kwargs = {"json": {}} if method != "get" else {}
        below = ROLES.index(role) - 1
        if below >= 0:
            headers = {"Authorization": f"Bearer {_token(app, ROLES[below])}"}
            with client.open(url, method=method.upper(), headers=headers, **kwargs) as resp:
                assert resp.status_code == 403, f"{method.upper()} {path} as {ROLES[below]}: {resp.status_code}"
                assert f"needs the {role} role" in resp.get_json()["error"]
        else:
            with client.open(url, method=method.upper(), **kwargs) as resp:
                assert resp.status_code == 401, f"{method.upper()} {path} anonymous: {resp.status_code}"
        headers = {"Authorization": f"Bearer {_token(app, role)}"}
        with client.open(url, method=method.upper(), headers=headers, **kwargs) as resp:
            assert resp.status_code not in (401, 403, 405, 500), f"{method.upper()} {path} as {role}"
        checked += 1
    assert checked >= 40


def test_documented_bodies_are_the_validated_ones(app, doc):  # noqa: F811
    """A body the document's schema refuses is refused (400 naming the field) by the view."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(app, 'admin')}"}
    refs = 0
    for rule, path, method in _api_routes(app):
        body = doc["paths"][path][method].get("requestBody")
        if not body:
            continue
        schema = body["content"]["application/json"]["schema"]
        if "$ref" not in schema:
            continue  # the domain's own schema, inline (Alertmanager's payload)
        name = schema["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["schemas"][name] == SCHEMAS[name]
        if SCHEMAS[name].get("additionalProperties") is False:
            with client.open(
                _url(rule), method=method.upper(), headers=headers, json={"no_such_field_here": 1}
            ) as resp:
                assert resp.status_code == 400, f"{method.upper()} {path}: {resp.status_code}"
                if name != "JobRelaunch":  # its 400 says what the body may be: empty or {"apply": bool}
                    assert "no_such_field_here" in resp.get_json()["error"], (path, resp.get_json())
            refs += 1
    assert refs >= 10


def test_query_arguments_are_declared_and_checked(app, doc):  # noqa: F811
    """An integer query argument the document bounds is refused out of its bounds, by name."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(app, 'admin')}"}
    checked = 0
    for rule, path, method in _api_routes(app):
        for param in doc["paths"][path][method].get("parameters", []):
            if param["in"] != "query" or param["schema"].get("type") != "integer":
                continue
            high = param["schema"]["maximum"]
            url = f"{_url(rule)}?{param['name']}={high + 1}"
            with client.open(url, method=method.upper(), headers=headers) as resp:
                assert resp.status_code == 400, (path, param["name"])
                assert resp.get_json()["error"].startswith(f"{param['name']} must be an integer from"), path
            checked += 1
    assert checked >= 10
