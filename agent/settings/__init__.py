"""The one table of agent settings.

Each field of `Settings` is a row: its metadata gives the help text and bounds, and from it
come the `openfabric serve` flag (`--peer-port`), the environment variable
(`OPENFABRIC_PEER_PORT`), the config-file key (`peer_port`) and the generated docs.
Precedence is flag > environment > config file > default.

The rows are grouped by area, one module each (node, cluster, work, intelligence, flows);
`Settings` joins them.
"""

from agent.settings.field import SettingsError, setting
from agent.settings.loading import CONFIG_ENV, load_settings, read_config_file, settings_markdown
from agent.settings.spec import BY_NAME, ENV_PREFIX, SETTINGS, SettingSpec
from agent.settings.table import Settings

__all__ = [
    "BY_NAME",
    "CONFIG_ENV",
    "ENV_PREFIX",
    "SETTINGS",
    "SettingSpec",
    "Settings",
    "SettingsError",
    "load_settings",
    "read_config_file",
    "setting",
    "settings_markdown",
]
