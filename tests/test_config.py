"""Configuration: defaults, environment overrides, secrets only from the environment, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dastbot.kernel.config import Config, ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent


def test_the_example_bot_yaml_is_valid_and_equals_the_embedded_defaults() -> None:
    from_file = load_config(REPO / "bot.yaml", {})
    defaults = load_config(None, {})
    assert from_file.model_dump(exclude={"base_dir"}) == defaults.model_dump(exclude={"base_dir"})


def _leaf_paths(model: type[Config] | type, prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        if name in ("mattermost_token", "slash_token", "base_dir"):
            continue
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            out += _leaf_paths(ann, f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def test_every_field_is_in_bot_yaml_with_a_comment_naming_its_variable() -> None:
    text = (REPO / "bot.yaml").read_text()
    data = yaml.safe_load(text)
    for path in _leaf_paths(Config):
        node = data
        for part in path.split("."):
            assert part in node, f"{path} missing from bot.yaml"
            node = node[part]
        env = "DASTBOT_" + path.replace(".", "_").upper()
        assert env in text, f"bot.yaml does not document {env}"


def test_environment_overrides_every_kind_of_field() -> None:
    config = load_config(
        None,
        {
            "DASTBOT_MATTERMOST_URL": "https://chat.example.org:443/",
            "DASTBOT_TEAM": "atlas-test",
            "DASTBOT_CHANNELS": "dast-help, dast-test",
            "DASTBOT_HTTP_PORT": "9090",
            "DASTBOT_DB": "/var/lib/dastbot/d.db",
            "DASTBOT_KB": "/srv/kb",
            "DASTBOT_MATCHER_THRESHOLD": "0.42",
            "DASTBOT_MATTERMOST_CA_FILE": "/etc/ca.pem",
            "DASTBOT_MATTERMOST_TOKEN": "tok-123",
            "DASTBOT_SLASH_TOKEN": "slash-456",
        },
    )
    assert config.mattermost.url == "https://chat.example.org:443"
    assert config.team == "atlas-test"
    assert config.channels == ["dast-help", "dast-test"]
    assert config.http.port == 9090
    assert (config.db, config.kb) == ("/var/lib/dastbot/d.db", "/srv/kb")
    assert config.matcher.threshold == 0.42
    assert config.mattermost.ca_file == "/etc/ca.pem"
    assert config.mattermost_token is not None
    assert config.mattermost_token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(config) and "slash-456" not in str(config)


def test_a_token_in_bot_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("team: atlas\nmattermost:\n  url: http://x:8065\n  token: abc\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.errors == [
        f"{path}:4: mattermost.token: secrets are read only from the environment "
        "(DASTBOT_MATTERMOST_TOKEN, DASTBOT_SLASH_TOKEN); remove it"
    ]
    assert "abc" not in str(info.value)


def test_every_error_is_reported_at_once_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("team: atlas\nhttp:\n  port: seventy\nmatcher:\n  threshold: 3\ncolour: red\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    text = "\n".join(info.value.errors)
    assert f"{path}:3: http.port: should be a whole number, not 'seventy'" in text
    assert f"{path}:5: matcher.threshold: should be at most 1, not 3" in text
    assert f"{path}:6: colour: is not a known field (a typo?)" in text


def test_bad_environment_values_name_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"DASTBOT_HTTP_PORT": "many"})
    assert info.value.errors[0].startswith("environment: DASTBOT_HTTP_PORT:")


def test_broken_yaml_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("team: [atlas\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.errors[0].startswith(f"{path}:2: invalid YAML")


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "bot.yaml"
    path.parent.mkdir()
    path.write_text("db: state/bot.db\n")
    config = load_config(path, {})
    assert config.resolve(config.db) == tmp_path / "conf" / "state" / "bot.db"


def test_an_impossible_date_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("team: atlas\nchannels:\n  - 2026-02-30\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.errors == [
        f"{path}:3: invalid date '2026-02-30': day is out of range for month"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("roster: &a [*a]\n", "a YAML alias refers to itself"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
                for p, n in zip("abcde", "bcdef", strict=True)
            ),
            "the document expands to too many values (aliases?)",
        ),
    ],
)
def test_recursive_and_exploding_aliases_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.errors[0].endswith(message)
