"""Hugging Face hub access without network waits: decide once whether the hub answers, and when it
does not, read the `datasets` cache only.

`datasets` and `huggingface_hub` read HF_HUB_OFFLINE from the environment once, when they are
imported, so setting the variable inside a running process changes nothing; with the hub
unreachable they then retry each request for about 25 seconds and print a warning per retry before
giving up. Both libraries check a module-level flag on every request, and that flag is the switch
used here, set for one load and restored afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "ON", "YES", "TRUE"}


def offline_requested() -> bool:
    """The user asked for offline mode (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)."""
    return any((os.environ.get(name) or "").upper() in _TRUE for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


@functools.lru_cache(maxsize=8)
def _answers(url: str, timeout_s: float) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def hub_online(timeout_s: float = 3.0) -> bool:
    """False when offline mode is requested or the endpoint does not accept a connection (DNS failure,
    refused, time-out); asked once per endpoint and process."""
    return not offline_requested() and _answers(endpoint(), timeout_s)


@contextlib.contextmanager
def cache_only() -> Iterator[None]:
    """Within this block `datasets` reads its local cache and makes no request (see the module note)."""
    import datasets.config
    import huggingface_hub.constants

    before = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = before
