"""Conversion between v1 (dropsonde) and v2 envelopes, by go-loggregator v10's rules.

:func:`to_v2` is upstream's ``conversion.ToV2(env, usePreferredTags)``, :func:`to_v1` its
``conversion.ToV1(env)``, and :func:`marshal_v1` serializes what ``to_v1`` returns with Go's
view of required fields. Every rule is pinned by tests/vectors (see its README).
"""

from lgr.core.conversion.tov1 import to_v1
from lgr.core.conversion.tov2 import to_v2
from lgr.core.conversion.v1marshal import V1MarshalError, marshal_v1

__all__ = ["V1MarshalError", "marshal_v1", "to_v1", "to_v2"]
