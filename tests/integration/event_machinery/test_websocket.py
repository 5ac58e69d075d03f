"""The local WebSocket API at ws://127.0.0.1:<port>/ws: $connect/$disconnect/$default routes to
SocketHandler, which answers through the @connections management API (PostToConnection,
GetConnection, DeleteConnection)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.integration.event_machinery.support import eventually

REPLY_TIMEOUT = 15


@pytest.fixture(scope="module")
def ws_url(machinery) -> str:
    return machinery.base_url.replace("http://", "ws://", 1) + "/ws"


@contextmanager
def socket(url: str):
    with connect(url, proxy=None, open_timeout=REPLY_TIMEOUT, close_timeout=5) as connection:
        yield connection


def ask(connection: ClientConnection, message: dict) -> dict:
    connection.send(json.dumps(message))
    return json.loads(connection.recv(timeout=REPLY_TIMEOUT))


def connection_id(connection: ClientConnection) -> str:
    return ask(connection, {"action": "echo", "text": "who"})["me"]


def test_send_echo_action_receives_echo_addressed_to_own_connection(ws_url):
    with socket(ws_url) as connection:
        reply = ask(connection, {"action": "echo", "text": "hi"})

    assert reply["echo"] == "hi"
    assert isinstance(reply["me"], str) and reply["me"]


def test_connect_refused_by_connect_route_handshake_fails_with_403(ws_url):
    with pytest.raises(InvalidStatus) as refused:
        with socket(ws_url + "?deny=1"):
            pass

    assert refused.value.response.status_code == 403


def test_send_whoami_get_connection_reports_source_ip(ws_url):
    with socket(ws_url) as connection:
        assert ask(connection, {"action": "whoami"}) == {"source_ip": "127.0.0.1"}


def test_poke_a_closed_connection_post_to_connection_answers_gone(probe, ws_url):
    with socket(ws_url) as other:
        gone = connection_id(other)
    eventually(lambda: any(e["route"] == "$disconnect" for e in probe.journal("socket", gone)),
               what="the closed socket's $disconnect")

    with socket(ws_url) as connection:
        assert ask(connection, {"action": "poke", "target": gone}) == {"poke": "gone"}


def test_send_kick_delete_connection_closes_the_socket(ws_url):
    with socket(ws_url) as connection:
        connection.send(json.dumps({"action": "kick"}))

        with pytest.raises(ConnectionClosed):
            connection.recv(timeout=REPLY_TIMEOUT)


def test_connect_then_close_journals_connect_and_disconnect_routes(probe, ws_url):
    with socket(ws_url) as connection:
        me = connection_id(connection)

    routes = eventually(lambda: (r := [e["route"] for e in probe.journal("socket", me)]) and "$disconnect" in r and r,
                        what="$disconnect journaled")

    assert routes == ["$connect", "$disconnect"]
