"""Import LiteLLM without its start-up fetch of a remote price map (no network in tests)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

__all__ = ["callback", "litellm"]


from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402


@contextmanager
def callback(logger: Any) -> Iterator[Any]:
    """``logger`` as LiteLLM's only callback, then removed from every list LiteLLM copied it into."""
    saved = litellm.callbacks
    litellm.callbacks = [logger]
    try:
        yield logger
    finally:
        litellm.logging_callback_manager.remove_callback_from_all_lists(logger)
        litellm.callbacks = saved
