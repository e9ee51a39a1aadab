"""Issue 11: the heap built at start-up (knowledge, rule engine, models) is frozen before serving,
so a call's garbage collections walk only the call's own objects (``cds_hooks.server.freeze_heap``),
in ``rair-cds serve`` (waitress) and in every gunicorn worker (``--workers N``)."""

from __future__ import annotations

import gc

import pytest

import cds_hooks.server as server_module
from cds_hooks.workers import GunicornServer, gunicorn_options


@pytest.fixture(autouse=True)
def _unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_serve_freezes_the_heap_before_the_first_request(make_app, monkeypatch):
    app = make_app()
    frozen_when_serving: list[int] = []

    class FakeServer:
        effective_port = 1

        def run(self) -> None:
            frozen_when_serving.append(gc.get_freeze_count())

    monkeypatch.setattr(server_module, "create_server", lambda *a, **k: FakeServer())
    monkeypatch.setattr(server_module, "shutdown", lambda server: None)

    server_module.serve(app, host="127.0.0.1", port=0)

    assert frozen_when_serving and frozen_when_serving[0] > 1000  # the app's objects, and more


def test_each_gunicorn_worker_freezes_its_heap_after_building_its_app():
    options = gunicorn_options("127.0.0.1", 0, 2, 4, 10.0)
    GunicornServer(options)  # gunicorn accepts the hook (it checks the setting's signature)
    assert gc.get_freeze_count() == 0

    options["post_worker_init"](object())  # gunicorn calls it in the worker, after load()

    assert gc.get_freeze_count() > 1000
