"""The RLP gateway over real HTTPS (httpx) in front of a real RLP and router: SSE, auth, errors."""

from __future__ import annotations

import asyncio

import pytest
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.auth import tokens
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import TIMEOUT, channel, log_envelope, run, send
from tests.core.apps.gateway_support import (
    NOT_FOUND_BODY,
    gateway_stack,
    sse,
)
from tests.core.apps.test_router import every_kind

ERROR_HEADERS = {"content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff"}


def _headers_match(response, expected):
    return all(response.headers.get(k) == v for k, v in expected.items())


def test_sse_batches_decode_into_the_envelopes_sent(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            params = [("source_id", "app-1"), ("log", ""), ("counter", ""), ("gauge", ""),
                      ("timer", ""), ("event", "")]
            async with sse(stack, params, stack.tokens.reader) as reader:
                assert reader.response.headers["content-type"] == "text/event-stream"
                assert reader.response.headers["cache-control"] == "no-cache"
                await stack.subscribed()
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                sent = every_kind("app-1") + [log_envelope(9, source_id="other")]
                await send(ingress, sent)
                await async_wait_until(lambda: len(reader.envelopes()) >= 5, timeout=TIMEOUT)
                got = sorted(reader.envelopes(), key=lambda e: e.timestamp)
                # The RLP asks for preferred tags: deprecated tags become tags.
                want = [envelope_pb2.Envelope() for _ in sent[:5]]
                for w, env in zip(want, sent):
                    w.CopyFrom(env)
                    w.ClearField("deprecated_tags")
                want[0].tags.update({"job": "cell", "index": "-7", "load": "1.5"})
                assert got == want
                assert all(e.source_id == "app-1" for e in got)
                await ingress.close()
            m = stack.gateway.m
            assert m.ingress.value >= 5 and m.egress.value >= 5
            metrics = stack.gateway.metrics.render_prometheus()
            assert "egress " in metrics and 'dropped{direction="egress"}' in metrics

    run(body())


def test_each_data_event_is_exactly_the_protojson_of_a_batch(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            async with sse(stack, {"log": ""}, stack.tokens.admin) as reader:
                await stack.subscribed()
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                env = envelope_pb2.Envelope(timestamp=7, source_id="a<b>&c", instance_id="0")
                env.log.payload = b"hi"
                env.tags["z"] = "1"
                env.tags["a"] = "\u2028"
                await send(ingress, [env])
                await async_wait_until(lambda: reader.envelopes(), timeout=TIMEOUT)
                data = [e["data"] for e in reader.events if "event" not in e]
                assert data[0] == (
                    '{"batch":[{"timestamp":"7","source_id":"a<b>&c","instance_id":"0",'
                    '"deprecated_tags":{},"tags":{"a":"\u2028","z":"1"},'
                    '"log":{"payload":"aGk=","type":"OUT"}}]}')
                await ingress.close()

    run(body())


def test_heartbeats_arrive_when_idle_and_closing_ends_the_stream(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path, heartbeat="0.1s", stream_timeout="1s") as stack:
            async with sse(stack, {"log": ""}, stack.tokens.admin) as reader:
                await asyncio.wait_for(reader.ended.wait(), TIMEOUT)
                beats = reader.of("heartbeat")
                assert beats and all(b["data"].isdigit() for b in beats)
                assert reader.events[-1] == {"event": "closing",
                                             "data": "closing due to stream timeout"}
                assert reader.raw == b""
            assert stack.gateway.m.heartbeats.value == len(beats)
            assert stack.gateway.m.stream_timeouts.value == 1
            await async_wait_until(lambda: stack.gateway.reader.open_streams == 0)

    run(body())


def test_a_stream_of_a_granted_source_and_the_admin_firehose_are_allowed(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            async with sse(stack, {"source_id": "app-1", "log": ""}, stack.tokens.reader), \
                    sse(stack, {"log": ""}, stack.tokens.admin) as firehose:
                await stack.subscribed(2)
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                await send(ingress, [log_envelope(1, "app-1"), log_envelope(2, "app-2")])
                await async_wait_until(lambda: len(firehose.envelopes()) == 2, timeout=TIMEOUT)
                await ingress.close()

    run(body())


@pytest.mark.parametrize(
    ("case", "params", "reason"),
    [
        ("no token", {"log": ""}, "missing_token"),
        ("unknown token", {"log": ""}, "invalid_token"),
        ("reader without a source id", {"log": ""}, "not_admin"),
        ("reader of a source not granted", {"source_id": "app-2", "log": ""}, "not_granted"),
        ("reader of one granted and one not", [("source_id", "app-1"), ("source_id", "app-2"),
                                                ("log", "")], "not_granted"),
    ],
)
def test_every_auth_failure_is_upstreams_404(pki, tmp_path, case, params, reason):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            token = {"no token": None, "unknown token": "lgr_nope"}.get(case, stack.tokens.reader)
            headers = {"Authorization": f"bearer {token}"} if token else {}
            for method in ("GET", "POST"):  # auth comes before the method check, as upstream
                r = await stack.client.request(method, stack.url, params=params, headers=headers)
                assert r.status_code == 404
                assert r.content == NOT_FOUND_BODY
                assert _headers_match(r, ERROR_HEADERS)
            assert stack.gateway.authorizer.failures("gateway", reason) == 2
            assert f'auth_failures{{endpoint="gateway",reason="{reason}"}} 2' in \
                stack.gateway.metrics.render_prometheus()

    run(body())


def test_revoking_a_token_takes_effect_without_a_restart(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            headers = {"Authorization": f"bearer {stack.tokens.reader}"}
            params = {"source_id": "app-1", "event": ""}
            async with sse(stack, params, stack.tokens.reader):
                pass
            assert tokens.revoke(stack.tokens.path, "reader")
            r = await stack.client.get(stack.url, params=params, headers=headers)
            assert r.status_code == 404 and r.content == NOT_FOUND_BODY
            fresh, _ = tokens.mint(stack.tokens.path, "later", source_ids=["app-1"])
            async with sse(stack, params, fresh):
                pass

    run(body())


@pytest.mark.parametrize(
    ("method", "query", "status", "body"),
    [
        ("POST", "log", 405, b'{"message":"method not allowed","error":"method_not_allowed"}\n\n'),
        ("PUT", "log", 405, b'{"message":"method not allowed","error":"method_not_allowed"}\n\n'),
        ("DELETE", "", 405, b'{"message":"method not allowed","error":"method_not_allowed"}\n\n'),
        ("GET", "", 400, b'{"message":"query cannot be empty","error":"empty_query"}\n\n'),
        ("GET", "source_id=x", 400,
         b'{"message":"query must provide at least one envelope type",'
         b'"error":"missing_envelope_type"}\n\n'),
        ("GET", "a;b&c=%zz", 400, b'{"message":"query cannot be empty","error":"empty_query"}\n\n'),
    ],
)
def test_bad_methods_and_queries_get_upstreams_json_errors(pki, tmp_path, method, query, status,
                                                           body):
    async def body_():
        async with gateway_stack(pki, tmp_path) as stack:
            headers = {"Authorization": f"bearer {stack.tokens.admin}"}
            url = stack.url + (f"?{query}" if query else "")
            r = await stack.client.request(method, url, headers=headers)
            assert (r.status_code, r.content) == (status, body)
            assert _headers_match(r, ERROR_HEADERS)
            assert stack.gateway.m.bad_requests.value == 1

    run(body_())


def test_other_paths_are_gos_404_page(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            base = f"https://127.0.0.1:{stack.gateway.port}"
            for path in ("/", "/v2/read/", "/v2/reads", "/metrics"):
                r = await stack.client.get(base + path)
                assert (r.status_code, r.content) == (404, b"404 page not found\n")
                assert "server" not in r.headers

    run(body())


def test_the_gateway_asks_no_client_certificate_and_serves_metrics(pki, tmp_path):
    async def body():
        import httpx

        from tests.core.apps.gateway_support import https_client

        async with gateway_stack(pki, tmp_path) as stack:
            async with https_client(pki) as anonymous:  # no client cert at all
                r = await anonymous.get(stack.url)
                assert r.status_code == 404
            # Metrics need a client certificate signed by the CA.
            import ssl

            ctx = ssl.create_default_context(cafile=str(pki.ca))
            ctx.load_cert_chain(str(pki.cert("client")), str(pki.key("client")))
            async with httpx.AsyncClient(verify=ctx) as client:
                r = await client.get(stack.gateway.metrics_url)
                assert r.status_code == 200 and "# TYPE ingress counter" in r.text

    run(body())


def test_stopping_the_gateway_ends_open_streams(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            async with sse(stack, {"log": ""}, stack.tokens.admin) as reader:
                await stack.subscribed()
                await asyncio.wait_for(stack.gateway.stop(1.0), TIMEOUT)
                await asyncio.wait_for(reader.ended.wait(), TIMEOUT)
                assert stack.gateway.reader.open_streams == 0

    run(body())


def test_a_stream_ends_when_the_rlp_goes_away(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            async with sse(stack, {"log": ""}, stack.tokens.admin) as reader:
                await stack.subscribed()
                await stack.rlp.stop(0.2)
                await asyncio.wait_for(reader.ended.wait(), TIMEOUT)

    run(body())


async def _go_client_read(stack, query: str, token: str, want: int) -> list[envelope_pb2.Envelope]:
    """Read as go-loggregator's RLPGatewayClient.connect does: line by line, until closing."""
    from google.protobuf import json_format

    got: list[envelope_pb2.Envelope] = []
    headers = {"Authorization": f"bearer {token}", "Accept": "text/event-stream",
               "Cache-Control": "no-cache"}
    async with stack.client.stream("GET", stack.url + query, headers=headers) as r:
        assert r.status_code == 200
        buf, lines = "", r.aiter_lines()
        async for line in lines:
            if line.startswith("event: closing"):
                break
            if line.startswith("event: heartbeat"):
                await lines.__anext__()  # its data line (aiter_lines drops the blank line)
                continue
            if line.startswith("data: "):
                buf += line[len("data: "):]
            elif line == "" and buf:
                got.extend(json_format.Parse(buf, envelope_pb2.EnvelopeBatch()).batch)
                buf = ""
                if len(got) >= want:
                    break
    return got


def test_a_go_loggregator_style_client_reads_unchanged(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path, heartbeat="0.05s") as stack:
            ingress = channel(pki, stack.router.address, "doppler", name="agent")
            counter = every_kind("app-1")[1]
            reading = asyncio.ensure_future(_go_client_read(
                stack, "?source_id=app-1&log&counter.name=requests", stack.tokens.reader, 2))
            await stack.subscribed()
            await send(ingress, [log_envelope(1, "app-1"), counter, log_envelope(2, "app-2")])
            got = await asyncio.wait_for(reading, TIMEOUT)
            assert [e.source_id for e in got] == ["app-1", "app-1"]
            assert {e.WhichOneof("message") for e in got} == {"log", "counter"}
            await ingress.close()

    run(body())


def test_one_shard_id_splits_the_stream_between_its_readers(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            params = {"log": "", "shard_id": "group"}
            async with sse(stack, params, stack.tokens.admin) as a, \
                    sse(stack, params, stack.tokens.admin) as b:
                await stack.subscribed(2)
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                await send(ingress, [log_envelope(i) for i in range(200)])
                await async_wait_until(
                    lambda: len(a.envelopes()) + len(b.envelopes()) == 200, timeout=TIMEOUT)
                stamps = [e.timestamp for e in a.envelopes() + b.envelopes()]
                assert sorted(stamps) == list(range(1, 201))
                await ingress.close()

    run(body())


def test_upstream_mode_asks_uaa_and_capi(pki, tmp_path):
    from tests.core.auth.fake_cf import APP_GUID, CLIENT, SECRET, fake_cf

    async def body():
        async with fake_cf(pki) as cf:
            overrides = dict(
                log_admin_addr=cf.uaa_url, log_admin_client_id=CLIENT,
                log_admin_client_secret=SECRET, log_admin_ca_path=str(pki.ca),
                log_access_addr=cf.capi_url, log_access_addr_external=cf.external_url,
                log_access_ca_path=str(pki.ca), log_access_cert_path=str(pki.cert("gateway")),
                log_access_key_path=str(pki.key("gateway")), log_access_common_name="cache")
            async with gateway_stack(pki, tmp_path, **overrides) as stack:
                assert stack.gateway.authorizer.mode == "upstream"
                async with sse(stack, {"log": ""}, "admin-tok"), \
                        sse(stack, {"source_id": APP_GUID, "log": ""}, "user-tok"):
                    pass
                for token, params in (("user-tok", {"log": ""}),
                                      ("nope", {"source_id": APP_GUID, "log": ""}),
                                      (stack.tokens.admin, {"log": ""})):  # file tokens unused
                    r = await stack.client.get(stack.url, params=params,
                                               headers={"Authorization": f"bearer {token}"})
                    assert (r.status_code, r.content) == (404, NOT_FOUND_BODY)
                assert cf.calls("/check_token") and cf.calls("/internal/v4/log_access/")

    run(body())


def test_a_client_that_goes_away_ends_its_rlp_stream(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            async with sse(stack, {"log": ""}, stack.tokens.admin):
                await stack.subscribed(1)
                assert stack.gateway.m.streams.value == 1
            await async_wait_until(lambda: stack.gateway.reader.open_streams == 0,
                                   timeout=TIMEOUT)
            await stack.subscribed(0)
            assert stack.gateway.m.streams.value == 0

    run(body())


def test_envelopes_held_for_a_client_that_leaves_are_counted_as_dropped(pki, tmp_path):
    async def body():
        async with gateway_stack(pki, tmp_path) as stack:
            headers = {"Authorization": f"bearer {stack.tokens.admin}"}
            request = stack.client.build_request("GET", stack.url, params={"log": ""},
                                                 headers=headers)
            response = await stack.client.send(request, stream=True)  # and never read
            await stack.subscribed()
            ingress = channel(pki, stack.router.address, "doppler", name="agent")
            m = stack.gateway.m
            # Three batches in flight (one being written, one queued, one being handed over)
            # only happen once the writer waits for a client that does not read.
            while m.ingress.value - m.egress.value < 300:
                await send(ingress, [log_envelope(i, size=200) for i in range(2000)])
            await response.aclose()
            await async_wait_until(lambda: m.dropped.value >= 200, timeout=TIMEOUT)
            await async_wait_until(lambda: stack.gateway.reader.open_streams == 0)
            assert m.ingress.value == m.egress.value + m.dropped.value
            await ingress.close()

    run(body())
