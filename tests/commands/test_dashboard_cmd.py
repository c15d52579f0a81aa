"""`lgr dashboard` as a real subprocess: headless screenshots, defaults, and config errors."""

from __future__ import annotations

import asyncio

from lgr.core.errors import ExitCode
from tests.commands.client_env import client_env, error_lines, run_lgr
from tests.commands.test_tail_gateway_cmd import write_up_json
from tests.commands.test_tail_history_cmd import lgr
from tests.core.apps.firehose_support import channel, log_envelope, run, send
from tests.core.apps.gateway_support import gateway_stack


def test_says_clearly_that_it_cannot_connect_and_keeps_going(pki, tmp_path):
    shot = tmp_path / "shot.svg"
    env = client_env(pki, tmp_path, LGR_RLP_ADDR="127.0.0.1:1",
                     LGR_DASHBOARD_METRICS="router=https://127.0.0.1:1/metrics")
    proc = run_lgr("dashboard", "--screenshot", str(shot), "--screenshot-after", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    svg = shot.read_text()
    for expected in ("retrying", "cannot&#160;reach&#160;the&#160;reverse&#160;log&#160;proxy",
                     "127.0.0.1:1", "connection&#160;refused", "down"):
        assert expected in svg, expected


def test_starts_on_the_chosen_view(pki, tmp_path):
    shot = tmp_path / "shot.svg"
    env = client_env(pki, tmp_path, LGR_RLP_ADDR="127.0.0.1:1")
    proc = run_lgr("dashboard", "--view", "sources", "--screenshot", str(shot),
                   "--screenshot-after", "0.5", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Enter&#160;on&#160;a&#160;source&#160;filters" in shot.read_text()


def test_bad_settings_are_named_in_one_error(pki, tmp_path):
    env = client_env(pki, tmp_path, LGR_DASHBOARD_METRICS="nope", LGR_DASHBOARD_VIA="pigeon")
    proc = run_lgr("dashboard", env=env)
    assert proc.returncode == ExitCode.CONFIG
    text = "\n".join(error_lines(proc))
    assert "LGR_DASHBOARD_METRICS" in text and "LGR_DASHBOARD_VIA" in text


def test_missing_certificates_stop_it_before_the_ui(pki, tmp_path):
    env = client_env(pki, tmp_path, LGR_CERT_FILE=str(tmp_path / "absent.crt"))
    proc = run_lgr("dashboard", env=env)
    assert proc.returncode != 0
    assert "absent.crt" in error_lines(proc)[0]


def test_via_gateway_after_lgr_up_needs_no_flags(pki, tmp_path):
    """up.json names the gateway's URL and the admin token's file: the dashboard uses both."""

    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            token_file = tmp_path / "admin.token"
            token_file.write_text(stack.tokens.admin + "\n")
            token_file.chmod(0o600)
            write_up_json(tmp_path, pki, token_file=str(token_file), gateway_addr=stack.gateway.url)
            shot = tmp_path / "shot.svg"
            task = asyncio.ensure_future(lgr(
                "dashboard", "--via", "gateway", "--view", "sources", "--screenshot", str(shot),
                "--screenshot-after", "5", env=client_env(pki, tmp_path)))
            # The gateway subscribes to the rlp only for a stream whose token it accepted.
            await stack.subscribed(1)
            ingress = channel(pki, stack.router.address, "doppler", name="agent")
            try:
                while not task.done():
                    await send(ingress, [log_envelope(1, "dash-app")])
                    await asyncio.sleep(0.05)
            finally:
                await ingress.close()
            code, _, err = await task
            assert code == 0, err
            return shot.read_text()

    svg = run(body())
    gateway_line = "streaming&#160;from&#160;the&#160;rlp&#160;gateway&#160;at&#160;https://127.0.0.1:"
    assert "dash-app" in svg and gateway_line in svg
