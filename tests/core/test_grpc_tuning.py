"""The components' gRPC I/O switch: set only when unset and only for a verified gRPC release."""

from __future__ import annotations

from lgr.core import grpc_tuning
from lgr.core.grpc_tuning import ENV, POLLER_IO, VERIFIED, prefer_poller_io


def test_sets_the_poller_switch_when_the_environment_has_none():
    env: dict[str, str] = {"PATH": "/bin"}
    assert prefer_poller_io(env, release=VERIFIED[0]) is True
    assert env == {"PATH": "/bin", ENV: POLLER_IO}


def test_a_users_setting_wins_even_an_empty_one():
    for value in ("", "event_engine_client", POLLER_IO):
        env = {ENV: value}
        assert prefer_poller_io(env, release=VERIFIED[0]) is False
        assert env == {ENV: value}


def test_an_unverified_grpc_release_keeps_grpcs_defaults():
    for release in ("1.84", "1.86", "2.0", ""):
        env: dict[str, str] = {}
        assert prefer_poller_io(env, release=release) is False
        assert env == {}


def test_the_installed_grpcio_release_is_read_without_importing_grpc():
    release = grpc_tuning.grpcio_release()
    major, minor = release.split(".")
    assert major.isdigit() and minor.isdigit()
