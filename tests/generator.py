"""The generator's output, made once per test session: tools/generate.py builds the pack once
and makes the member and organization templates from it."""

import functools

from tools.generate import Generated, generate


@functools.cache
def generated() -> Generated:
    return generate()
