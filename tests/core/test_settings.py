from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import SETTINGS, Settings, SettingsError, load_settings, settings_markdown

REQUIRED = {
    "home",
    "host",
    "port",
    "peer_host",
    "peer_port",
    "advertise_address",
    "auth",
    "log_level",
}


def test_table_has_the_required_settings_with_flags_and_env_names() -> None:
    by_name = {spec.name: spec for spec in SETTINGS}
    assert set(by_name) >= REQUIRED
    assert by_name["peer_port"].flag == "--peer-port"
    assert by_name["peer_port"].env == "OPENFABRIC_PEER_PORT"


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, env={"OPENFABRIC_HOME": str(tmp_path)})
    assert settings.port == 4892
    assert settings.host == "127.0.0.1"
    assert settings.auth == "token"
    assert settings.home == tmp_path


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("port: 1111\npeer_port: 2222\nlog-level: debug\n")
    env = {"OPENFABRIC_HOME": str(tmp_path), "OPENFABRIC_PORT": "3333"}
    settings = load_settings({"port": "4444"}, env=env)
    assert settings.port == 4444
    settings = load_settings({}, env=env)
    assert settings.port == 3333
    assert settings.peer_port == 2222
    assert settings.log_level == "debug"
    assert settings.telemetry_interval == Settings.telemetry_interval


def test_explicit_config_file_and_env_config(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"home: {tmp_path / 'h'}\nauth: none\n")
    assert load_settings(config=config, env={}).auth == "none"
    assert load_settings(env={"OPENFABRIC_CONFIG": str(config)}).home == tmp_path / "h"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"port": "99999"}, "port must be <= 65535"),
        ({"port": "eighty"}, "port must be int"),
        ({"auth": "maybe"}, "auth must be one of token, none"),
        ({"log_level": "loud"}, "log_level must be one of"),
        ({"telemetry_interval": "0"}, "telemetry_interval must be >= 0.1"),
    ],
)
def test_invalid_values_name_the_setting_and_source(
    tmp_path: Path, flags: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(flags, env={"OPENFABRIC_HOME": str(tmp_path)})
    assert "flag --" in str(caught.value)


def test_invalid_env_value_is_reported_with_its_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OPENFABRIC_PEER_PORT"):
        load_settings(env={"OPENFABRIC_HOME": str(tmp_path), "OPENFABRIC_PEER_PORT": "-1"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port: [1, 2]\n", "port must be int"),
        ("port: 1.5\n", "port must be int"),
        ("bogus: 1\n", "unknown settings: bogus"),
        ("- just\n- a list\n", "must be a mapping"),
        ("port: : :\n", "not valid YAML"),
        ("auth: true\n", "auth must be str"),
    ],
)
def test_bad_config_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "config.yaml").write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(env={"OPENFABRIC_HOME": str(tmp_path)})


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config=tmp_path / "nope.yaml", env={})


def test_unreadable_config_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").mkdir()
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings(env={"OPENFABRIC_HOME": str(tmp_path)})


def test_docs_table_lists_every_setting() -> None:
    text = settings_markdown()
    for spec in SETTINGS:
        assert f"`{spec.env}`" in text


def test_settings_doc_is_up_to_date() -> None:
    from agent.docs import DOC, render

    assert DOC.read_text(encoding="utf-8") == render(), "run `python -m agent.docs`"
