"""TokenTally's Python SDK: send LLM usage to TokenTally in one line.

    from tokentally import TokenTally
    tally = TokenTally("http://127.0.0.1:8000", api_key="...")
    tally.record("acme", "openai", "gpt-4o", usage=response.usage)   # returns at once
    client = tally.instrument(OpenAI(), client_id="acme")              # or record every call
"""

from __future__ import annotations

import os
import threading

from tokentally.client import Problem, Stats, TokenTally
from tokentally.instrument import instrument
from tokentally.usage import usage_dict

__all__ = ["Problem", "Stats", "TokenTally", "default_tally", "init", "instrument", "usage_dict"]
__version__ = "0.1.0"

_default: TokenTally | None = None
_lock = threading.Lock()


def init(url: str, api_key: str, **options: object) -> TokenTally:
    """Create the default ``TokenTally`` that ``instrument()`` (and the LiteLLM callback) use."""
    global _default
    with _lock:
        if _default is not None:
            _default.close()
        _default = TokenTally(url, api_key, **options)  # type: ignore[arg-type]
        return _default


def default_tally() -> TokenTally:
    """The one from ``init()``, else one made from ``TOKENTALLY_URL`` and ``TOKENTALLY_API_KEY``."""
    global _default
    with _lock:
        if _default is None:
            url, key = os.environ.get("TOKENTALLY_URL"), os.environ.get("TOKENTALLY_API_KEY")
            if not url or not key:
                raise RuntimeError("call tokentally.init(url, api_key) or set TOKENTALLY_URL and TOKENTALLY_API_KEY")
            _default = TokenTally(url, key)
        return _default
