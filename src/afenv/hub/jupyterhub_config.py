"""JupyterHub's config file for the hub `afenv hub up` starts (``jupyterhub -f`` this file):
everything comes from the settings that `hub up` wrote and names in AFENV_HUB_SETTINGS."""

import os
from pathlib import Path

from afenv.hub.hubconfig import configure
from afenv.hub.settings import load_settings

_settings = load_settings(Path(os.environ["AFENV_HUB_SETTINGS"]))
assert _settings is not None, "afenv hub up writes the settings before it starts the hub"
configure(get_config(), _settings)  # type: ignore[name-defined]  # noqa: F821 (JupyterHub's)
