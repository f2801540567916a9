"""One "job ended" signal, sent by the jobs domain and received by provisioning, wired the same in
every process that runs jobs; and a job's environment made of what the deployment registers."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from netoss.domain import wiring
from netoss.domain.jobs import environment, signals
from netoss.domain.provisioning import orders


def test_every_receiver_hears_a_job_end_even_after_one_fails(caplog):
    heard = []

    def broken(job):
        raise RuntimeError("database away")

    def listening(job):
        heard.append(job.id)

    signals.job_ended.connect(broken)
    signals.job_ended.connect(listening)
    try:
        with caplog.at_level(logging.ERROR, logger="netoss.jobs"):
            signals.ended(SimpleNamespace(id=7, template="backup"))
    finally:
        signals.job_ended.disconnect(broken)
        signals.job_ended.disconnect(listening)
    assert heard == [7]
    assert "job 7: a receiver of job_ended failed" in caplog.text and "database away" in caplog.text


def test_the_wiring_connects_the_service_orders_once_however_often_it_is_called():
    wiring.connect()
    wiring.connect()
    receivers = [r for r in signals.job_ended.receivers_for(SimpleNamespace(id=1)) if r is orders.job_finished]
    assert len(receivers) == 1


def test_the_portal_and_a_daemons_context_have_the_same_wiring_and_configuration(monkeypatch, tmp_path):
    from netoss.data.context import build_app
    from netoss.web import create_app

    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db", "SECRET_KEY": "k" * 32, "JOB_QUEUE": "q"}
    signals.job_ended.disconnect(orders.job_finished)
    web = create_app(config)
    assert orders.job_finished in list(signals.job_ended.receivers_for(SimpleNamespace(id=1)))
    daemon = build_app(config)
    for key in ("SQLALCHEMY_DATABASE_URI", "JOB_TEMPLATES_DIR", "JOB_QUEUE", "REDIS_URL", "NETBOX_URL"):
        assert daemon.config[key] == web.config[key], key
    assert not daemon.blueprints  # no web in a daemon's context


def test_a_jobs_environment_is_read_from_the_registered_providers_at_each_job(monkeypatch):
    monkeypatch.setattr(environment, "_providers", [])
    lab = {"NETOSS_DEVICE_USER": "first"}

    def deployment(env):
        return dict(lab, SEEN_STATE=env.get("STATE", ""))

    environment.register(deployment)
    environment.register(deployment)  # once only
    assert environment.job_environment({"STATE": "/s", "PATH": "/bin"}) == {
        "STATE": "/s",
        "PATH": "/bin",
        "NETOSS_DEVICE_USER": "first",
        "SEEN_STATE": "/s",
    }
    lab["NETOSS_DEVICE_USER"] = "rebuilt"  # the lab was rebuilt after the worker started
    assert environment.job_environment({})["NETOSS_DEVICE_USER"] == "rebuilt"
    environment.unregister(deployment)
    assert environment.job_environment({"PATH": "/bin"}) == {"PATH": "/bin"}
