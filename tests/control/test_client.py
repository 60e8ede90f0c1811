"""The control socket's client, against a real Unix socket whose server goes away mid-request."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from payloads_tui.domain.errors import ServiceError
from payloads_tui.service.control import ControlClient, socket_path


def test_a_service_that_goes_away_mid_request_is_said_to_have_kept_what_it_did(tmp_path: Path) -> None:
    """A kill -9 during `payloads run`: the job it queued resumes at the next start, and the error says so."""
    home = tmp_path / "home"
    home.mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path(home)))
    server.listen(1)

    def accept_and_vanish() -> None:
        conn, _ = server.accept()
        conn.recv(1 << 16)  # the request arrived; then the process is gone
        conn.close()

    thread = threading.Thread(target=accept_and_vanish, daemon=True)
    thread.start()
    try:
        with pytest.raises(ServiceError) as raised:
            ControlClient(home, timeout=10).call("run_outbound", slug="stripe", payload="Customer: Create")
    finally:
        thread.join(10)
        server.close()
    assert str(raised.value).startswith("the service closed the connection without answering (did it stop?); ")
    assert "a job it had queued resumes when a service starts on this data directory" in str(raised.value)


def test_every_remote_method_takes_arguments_the_socket_can_carry() -> None:
    """An attached console's test email failed with "Type unions may not contain more than one array-like
    type": each argument is decoded with its method's type hint, which msgspec must be able to read."""
    import msgspec

    from payloads_tui.service.control import REMOTE_METHODS, method_hints

    unreadable = []
    for name in sorted(REMOTE_METHODS):
        for param, hint in method_hints(name).items():
            if param == "return":
                continue
            try:
                msgspec.json.Decoder(hint)
            except TypeError as exc:
                unreadable.append(f"{name}({param}: {hint}): {exc}")
    assert unreadable == []
