"""The settings tree: one source of defaults, every engine parameter settable, typos refused."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brightkitchen.settings import (
    ENGINE_SECTIONS,
    Settings,
    SettingsError,
    load,
    reference,
    settings_reference_page,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No BK_* variable from the caller's environment, no .env file in reach."""
    for name in list(os.environ):
        if name.startswith("BK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("BK_CHECKPONT_INTERVAL_S", "BK_CHECKPOINT_INTERVAL_S"),
        ("BK_VIOLATIONS__MERGE_GAP", "BK_VIOLATIONS__MERGE_GAP_S"),
        ("BK_CAMERA_HEALTH__OFLINE_AFTER_S", "BK_CAMERA_HEALTH__OFFLINE_AFTER_S"),
    ],
)
def test_a_misspelt_variable_is_an_error_naming_the_valid_one(clean_env, variable, suggestion):
    clean_env.setenv(variable, "1")
    with pytest.raises(SettingsError) as exc:
        load()
    assert variable in str(exc.value) and suggestion in str(exc.value)


def test_the_cli_exits_2_on_a_misspelt_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    env |= {"BK_CHECKPONT_INTERVAL_S": "1", "BK_STORE_PATH": str(tmp_path / "store")}
    done = subprocess.run(
        [sys.executable, "-m", "brightkitchen.cli", "query", "SELECT 1"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert "BK_CHECKPOINT_INTERVAL_S" in done.stderr.replace("\n", "")
    assert not (tmp_path / "store").exists()  # refused before anything was opened


def test_tooling_variables_are_not_settings(clean_env):
    clean_env.setenv("BK_ONCALL_WEBHOOK_URL", "http://127.0.0.1:1/")
    clean_env.setenv("BK_BENCH_TOTAL", "10")
    assert load() == Settings()


def test_engine_sections_default_to_the_engines_own_defaults(clean_env):
    settings = load()
    for section, params in ENGINE_SECTIONS.items():
        assert getattr(settings, section) == params()


def test_one_class_parameter_keeps_every_other_default(clean_env):
    clean_env.setenv("BK_VIOLATIONS__CLASSES__RODENT__OPEN_HITS", "3")
    classes = load().violations.classes
    defaults = ENGINE_SECTIONS["violations"]().classes
    assert classes["rodent"] == dataclasses.replace(defaults["rodent"], open_hits=3)
    assert {k: v for k, v in classes.items() if k != "rodent"} == {
        k: v for k, v in defaults.items() if k != "rodent"
    }


def _changed(value):
    """A different value of the same type that every engine accepts."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return max(1, value // 2) if value != 1 else 2
    return value / 2 if value else 1.0


def test_every_numeric_engine_parameter_is_settable(clean_env):
    leaves = [r for r in reference() if "__" in r.env and r.type in ("int", "float", "bool")]
    assert len(leaves) > 40
    for row in leaves:
        path = row.env.removeprefix("BK_").lower().split("__")
        default = load()
        node = default
        for part in path:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        want = _changed(node)
        if row.env == "BK_RATES__EMIT_EVERY_S":
            want = 600  # must divide an hour
        clean_env.setenv(row.env, json.dumps(want))
        try:
            got = load()
        finally:
            clean_env.delenv(row.env)
        for part in path:
            got = got[part] if isinstance(got, dict) else getattr(got, part)
        assert got == want, row.env


def test_an_engine_bound_is_refused_with_the_parameter_named(clean_env):
    clean_env.setenv("BK_CAMERA_HEALTH__OFFLINE_AFTER_S", "-3")
    with pytest.raises(SettingsError, match="offline_after_s"):
        load()


def test_a_settings_file_carries_the_whole_tree_and_refuses_unknown_keys(clean_env, tmp_path):
    clean_env.setenv("BK_RATES__GRADING__WINDOW", "24h")
    clean_env.setenv("BK_CAMERA_HEALTH__LATENESS_S", "9")
    settings = load()
    path = settings.to_file(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    clean_env.delenv("BK_RATES__GRADING__WINDOW")
    clean_env.delenv("BK_CAMERA_HEALTH__LATENESS_S")
    clean_env.setenv("BK_SETTINGS_FILE", str(path))
    assert load() == settings
    data = json.loads(path.read_text())
    data["camera_health"]["latenes_s"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(SettingsError, match="BK_CAMERA_HEALTH__LATENESS_S"):
        load()


def test_environment_beats_the_settings_file(clean_env, tmp_path):
    path = Settings(partitions=8).to_file(tmp_path)
    clean_env.setenv("BK_SETTINGS_FILE", str(path))
    clean_env.setenv("BK_PARTITIONS", "3")
    assert load().partitions == 3


def test_the_settings_reference_page_matches_the_code():
    """Run `brightkitchen settings > docs/settings.md` after changing a setting."""
    committed = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert committed == settings_reference_page()
