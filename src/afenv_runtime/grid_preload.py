"""Client preload of the notebook image: ship the user's X509 proxy when a Dask Client connects.

The image's Dask configuration (``/etc/dask/afenv.yaml``) names this module in
``distributed.client.preload``, so ``Client(...)`` in a notebook runs ``dask_setup`` with the new
client. With a valid proxy (``$X509_USER_PROXY`` or ``/tmp/x509up_u<uid>``) every current and
future worker gets it, as ``grid.ship_proxy`` does; without one nothing happens (a notebook that
reads no grid data should not hear about proxies). ``AFENV_SHIP_PROXY=0`` switches it off.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any

from afenv_runtime import grid

SWITCH = "AFENV_SHIP_PROXY"
logger = logging.getLogger("afenv_runtime.grid")


async def dask_setup(client: Any) -> None:
    # Called inside the client's event loop while it starts: a blocking call would return an
    # unawaited coroutine there (and ship nothing), so this awaits the registration itself.
    if os.environ.get(SWITCH, "1").strip() == "0":
        return
    try:
        info, plugin = grid.prepare()
    except grid.ProxyError as error:  # no proxy, expired, unreadable: the user did not ask
        logger.debug("X509 proxy not shipped: %s", error)
        return
    responses = client.register_plugin(plugin, name=grid.PLUGIN_NAME)
    if inspect.isawaitable(responses):
        responses = await responses
    grid.raise_for_failures(responses, "install")
    logger.info("shipped to the Dask workers: %s", info.summary())
