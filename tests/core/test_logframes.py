"""Log frames: the traffic controller's shortcut for plain logs reads exactly as to_v1 + marshal_v1."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lgr.core import envelope as E
from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core.conversion import logframes
from lgr.core.conversion.logframes import LogFrames
from lgr.core.conversion import marshal_v1, to_v1

text = st.text(max_size=8)
tag_keys = st.sampled_from(["origin", "deployment", "job", "index", "ip", "source_type", "app",
                            "source_id", "instance_id", "é"])


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=300), tags=st.dictionaries(tag_keys, text, max_size=5),
       source_id=st.sampled_from(["", "app-1", "é"]), instance_id=st.sampled_from(["", "0", "12"]),
       err=st.booleans(), ts=st.integers(-(2**63), 2**63 - 1))
def test_a_log_frame_is_the_converted_envelope(payload, tags, source_id, instance_id, err, ts):
    frames = LogFrames()
    env = E.log(payload, source_id=source_id, instance_id=instance_id, tags=tags,
                type="ERR" if err else "OUT", timestamp=ts)
    for _ in range(2):  # the first line makes the parts, the second uses them
        frame = frames.frame(env)
        assert v1.Envelope.FromString(frame) == v1.Envelope.FromString(marshal_v1(to_v1(env)[0]))


def test_lines_of_one_instance_share_parts_and_others_get_their_own(monkeypatch):
    monkeypatch.setattr(logframes, "PARTS_LIMIT", 2)  # forgetting them is exercised too
    frames = LogFrames()
    for i in range(6):
        env = E.log(f"line {i}", source_id=f"app-{i % 3}", instance_id="1",
                    tags={"origin": "rep", "n": str(i % 3)}, timestamp=i)
        got = v1.Envelope.FromString(frames.frame(env))
        assert got == to_v1(env)[0]
        assert got.tags["n"] == str(i % 3) and got.logMessage.app_id == f"app-{i % 3}"


def test_errors_and_deprecated_tags_go_through_to_v1():
    frames = LogFrames()
    error = E.log("boom", source_id="s", tags={"__v1_type": "Error", "source": "x", "code": "3"})
    assert frames.frame(error) is None
    deprecated = E.log("x", source_id="s")
    deprecated.deprecated_tags["origin"].text = "rep"
    assert frames.frame(deprecated) is None
