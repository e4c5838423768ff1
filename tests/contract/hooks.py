"""Schemathesis hooks for ``tests/contract``: the false positives it cannot tell from bugs, each with why.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS=tests.contract.hooks``.
"""

from __future__ import annotations
