"""The one way netoss reads measurements: Prometheus' HTTP API (instant and range queries),
with the stack's basic authentication. No second store: graphs and SLA states ask it each time.

Configuration (the portal's): PROMETHEUS_URL, PROMETHEUS_USER, PROMETHEUS_PASSWORD.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

DEFAULT_TIMEOUT = 10.0


class PrometheusError(RuntimeError):
    """Prometheus could not answer: the message says which query and why (no credential)."""


class Prometheus:
    def __init__(
        self, url: str, user: str | None = None, password: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if user:
            self.session.auth = (user, password or "")

    def __repr__(self) -> str:
        return f"Prometheus({self.url!r})"

    @classmethod
    def from_config(cls, config: Mapping) -> Prometheus | None:
        """The configured Prometheus, None when the portal has none."""
        if not config.get("PROMETHEUS_URL"):
            return None
        return cls(config["PROMETHEUS_URL"], config.get("PROMETHEUS_USER"), config.get("PROMETHEUS_PASSWORD"))

    def _get(self, path: str, params: dict) -> dict:
        try:
            resp = self.session.get(f"{self.url}/api/v1/{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusError(f"Prometheus at {self.url} did not answer: {type(exc).__name__}") from None
        try:
            body = resp.json()
        except ValueError:
            raise PrometheusError(f"Prometheus answered {resp.status_code} without JSON") from None
        if resp.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(
                f"Prometheus refused {params.get('query', '')[:200]!r}: {body.get('error') or resp.status_code}"
            )
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        """An instant vector: [{"metric": {...}, "value": float}]."""
        params = {"query": promql, **({"time": at} if at is not None else {})}
        return [{"metric": r["metric"], "value": float(r["value"][1])} for r in self._get("query", params)["result"]]

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict]:
        """A range: [{"metric": {...}, "values": [(unix time, float), ...]}]."""
        data = self._get("query_range", {"query": promql, "start": start, "end": end, "step": step})
        return [
            {"metric": r["metric"], "values": [(float(t), float(v)) for t, v in r["values"]]} for r in data["result"]
        ]
