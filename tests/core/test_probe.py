"""Probes: a taken port is named, an mTLS server is recognised, /health is read."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from lgr.core import probe
from lgr.core.metrics_server import MetricsServer


def test_taken_tcp_and_udp_ports_are_named() -> None:
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("127.0.0.1", 0))
        port, uport = tcp.getsockname()[1], udp.getsockname()[1]
        with pytest.raises(probe.PortInUseError) as info:
            probe.check_port_free("127.0.0.1", port, "tcp", "router")
        assert info.value.port == port and info.value.role == "router"
        assert f"port {port}/tcp" in info.value.message and "router" in info.value.message
        with pytest.raises(probe.PortInUseError):
            probe.check_port_free("127.0.0.1", uport, "udp", "agent")
    probe.check_port_free("127.0.0.1", 0)
    probe.check_port_free("127.0.0.1", probe.free_port())


def test_split_address() -> None:
    assert probe.split_address("127.0.0.1:8082") == ("127.0.0.1", 8082)
    assert probe.split_address("[::1]:8082") == ("::1", 8082)


def test_tls_and_health_probes(pki) -> None:
    from lgr.core.tls import server_ssl_context

    ready = threading.Event()
    ports: dict[str, int] = {}
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        tls = MetricsServer(lambda: "", ssl_context=server_ssl_context(*pki.files("router")))
        plain = MetricsServer(lambda: "")
        await tls.start()
        await plain.start()
        ports["tls"], ports["plain"] = tls.port, plain.port
        ready.set()
        await asyncio.Event().wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    good = probe.grpc_client_context(*map(str, pki.files("client")))
    rogue = probe.grpc_client_context(*map(str, pki.rogue.files("client")))
    assert probe.tls_accepts(f"127.0.0.1:{ports['tls']}", good, "doppler")
    assert not probe.tls_accepts(f"127.0.0.1:{ports['tls']}", rogue, "doppler")
    assert not probe.tls_accepts(f"127.0.0.1:{probe.free_port()}", good, "doppler")
    assert probe.http_healthy(f"http://127.0.0.1:{ports['plain']}/health")
    assert not probe.http_healthy(f"http://127.0.0.1:{ports['plain']}/nope")
    assert not probe.http_healthy(f"http://127.0.0.1:{probe.free_port()}/health")
