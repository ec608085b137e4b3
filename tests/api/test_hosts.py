"""The DNS-rebinding guard: a server bound to loopback answers only requests addressed to a
loopback address, localhost or a configured name (a real server on 127.0.0.1)."""

from __future__ import annotations

import httpx
import pytest

from pictrace import load_settings
from pictrace.api.app import create_app
from pictrace.api.origin import guards_hosts, host_name
from tests.api.live import live_server


def test_a_loopback_server_refuses_other_host_names(app_index, app_settings):
    settings = app_settings.model_copy(update={"server_names": ("images.example.org",)})
    with live_server(create_app(app_index, settings, bound="127.0.0.1")) as url:
        port = url.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "images.example.org"):
            answer = httpx.get(url + "/api/health", headers={"host": host})
            assert answer.status_code == 200, host
        rebound = {"host": f"rebind.attacker.example:{port}"}
        deleted = httpx.delete(
            url + "/api/images/1",
            headers={**rebound, "origin": f"http://rebind.attacker.example:{port}"},
        )
        assert deleted.status_code == 400 and deleted.json()["code"] == "unknown_host"
        assert "PICTRACE_SERVER_NAMES" in deleted.json()["message"]
        assert httpx.get(url + "/api/images", headers=rebound).status_code == 400
        assert httpx.get(url + "/api/images/1").status_code == 200  # nothing was removed


def test_which_apps_check_host_names():
    assert guards_hosts("127.0.0.1", ()) and guards_hosts("0.0.0.0", ())  # 0.0.0.0: loopback too
    assert guards_hosts(None, ("a.example",)) and not guards_hosts(None, ())  # an app, no server
    assert host_name("[::1]:8000") == "::1" and host_name("Images.Example.org.:80") == (
        "images.example.org"
    )
    assert host_name("[::1") == ""  # unreadable: refused, not an error


def test_addresses_pass_and_unreadable_hosts_are_refused(app_index, app_settings):
    with live_server(create_app(app_index, app_settings, bound="0.0.0.0")) as url:
        port = url.rsplit(":", 1)[1]
        lan = httpx.get(url + "/api/health", headers={"host": f"192.168.1.5:{port}"})
        assert lan.status_code == 200
        for host in ("[::1", f"files.example.org:{port}"):
            answer = httpx.get(url + "/api/health", headers={"host": host})
            assert answer.status_code == 400 and answer.json()["code"] == "unknown_host"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("127.0.0.1, 10.0.0.0/8", ("127.0.0.1", "10.0.0.0/8")),
        ('["a.example", "b.example"]', ("a.example", "b.example")),
        ("", ()),
    ],
)
def test_list_settings_take_commas_or_json(monkeypatch, given, expected):
    monkeypatch.setenv("PICTRACE_ALLOW_HOSTS", given)
    monkeypatch.setenv("PICTRACE_SERVER_NAMES", given)
    settings = load_settings()
    assert settings.allow_hosts == expected and settings.server_names == expected


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "127.0.0.1:8000", "http://a.example", "a b"])
def test_an_allowed_host_that_could_never_match_is_refused_at_once(monkeypatch, entry):
    from pictrace.errors import ConfigError

    monkeypatch.setenv("PICTRACE_ALLOW_HOSTS", f'["{entry}"]')
    with pytest.raises(ConfigError, match="allow_hosts"):
        load_settings()
