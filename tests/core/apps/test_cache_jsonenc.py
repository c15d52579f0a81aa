"""The read answer's fast JSON is exactly lgr.core.protojson's text, envelope by envelope."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lgr.core import envelope, protojson
from lgr.core.apps.cache import jsonenc
from tests.core.apps.test_router import every_kind

text = st.text(max_size=12)


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=40), tags=st.dictionaries(text, text, max_size=4), source_id=text,
       instance_id=text, err=st.booleans(), ts=st.integers(-(2**63), 2**63 - 1))
def test_logs_match_protojson(payload, tags, source_id, instance_id, err, ts):
    env = envelope.log(payload, source_id=source_id, instance_id=instance_id, tags=tags,
                       type="ERR" if err else "OUT", timestamp=ts)
    assert jsonenc.envelope_json(env) == protojson.envelope_json(env)


def test_every_kind_and_a_whole_answer_match_protojson():
    envs = every_kind("app-1") + [envelope.log("<&>\u2028", source_id="s", tags={"a": "b"}, timestamp=1)] * 3
    body = jsonenc.read_response([e.SerializeToString() for e in envs])
    assert body == ('{"envelopes":' + protojson.batch_json(envs) + "}\n").encode()
    assert jsonenc.read_response([]) == b'{"envelopes":{"batch":[]}}\n'
