"""Settings: arguments > OMEGA_* environment > config.toml in OMEGA_HOME > defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import omega_jupyter
from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.settings import Settings


@pytest.fixture
def home() -> Path:
    return Path(os.environ["OMEGA_HOME"])


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_defaults(home):
    settings = Settings.resolve()
    assert settings.home == home
    assert settings.database_url is None
    assert settings.resolved_database_url == f"sqlite:///{home / 'omega.db'}"
    assert (settings.bucket, settings.dataset_versions, settings.trust_pickle) == (
        "default",
        1,
        False,
    )


def test_home_defaults_to_the_user_directory(monkeypatch):
    monkeypatch.delenv("OMEGA_HOME")
    assert Settings.resolve().home == Path("~/.omega_jupyter").expanduser()


def test_precedence(home, monkeypatch):
    write_config(home, 'bucket = "from-file"\ndataset_versions = 4\nchunk_rows = 7\n')
    assert Settings.resolve().bucket == "from-file"
    monkeypatch.setenv("OMEGA_BUCKET", "from-env")
    monkeypatch.setenv("OMEGA_DATASET_VERSIONS", "5")
    settings = Settings.resolve()
    assert (settings.bucket, settings.dataset_versions, settings.chunk_rows) == ("from-env", 5, 7)
    settings = Settings.resolve(bucket="from-arg", dataset_versions=None)
    assert (settings.bucket, settings.dataset_versions) == ("from-arg", 5)


def test_home_argument_selects_the_config_file(tmp_path):
    other = tmp_path / "elsewhere"
    write_config(other, 'database_url = "postgresql+psycopg://u@h/db"\n')
    settings = Settings.resolve(home=str(other))
    assert settings.home == other
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_environment_values_are_converted(monkeypatch):
    monkeypatch.setenv("OMEGA_TRUST_PICKLE", "yes")
    monkeypatch.setenv("OMEGA_BLOB_CHUNK_BYTES", "1024")
    monkeypatch.setenv("OMEGA_DATABASE_URL", "sqlite:////tmp/x.db")
    settings = Settings.resolve()
    assert settings.trust_pickle is True and settings.blob_chunk_bytes == 1024
    assert settings.database_url == "sqlite:////tmp/x.db"
    monkeypatch.setenv("OMEGA_TRUST_PICKLE", "off")
    assert Settings.resolve().trust_pickle is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OMEGA_DATASET_VERSIONS", "zero"),
        ("OMEGA_DATASET_VERSIONS", "0"),
        ("OMEGA_CHUNK_ROWS", "-5"),
        ("OMEGA_TRUST_PICKLE", "maybe"),
    ],
)
def test_bad_environment_values(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable.removeprefix("OMEGA_").lower()):
        Settings.resolve()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bucket = ", "cannot read"),
        ("no_such_setting = 1\n", "no_such_setting"),
        ("dataset_versions = 0\n", "dataset_versions"),
        ('trust_pickle = "perhaps"\n', "trust_pickle"),
    ],
)
def test_bad_config_file(home, text, message):
    write_config(home, text)
    with pytest.raises(ConfigurationError, match=message):
        Settings.resolve()


def test_unknown_argument():
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Settings.resolve(no_such_setting=1)
    with pytest.raises(ConfigurationError):
        omega_jupyter.setup(no_such_setting=1)


def test_import_connects_to_nothing(tmp_path):
    home = tmp_path / "fresh-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env["OMEGA_HOME"] = str(home)
    code = (
        "import os, sys, omega_jupyter as om\n"
        "assert not os.path.exists(sys.argv[1]), 'import created files'\n"
        "client = om.setup(); repr(client); om['other']\n"
        "assert not os.path.exists(os.path.join(sys.argv[1], 'omega.db')), 'setup connected'\n"
        "om.datasets.put({'a': 1}, 'x')\n"
        "assert os.path.exists(os.path.join(sys.argv[1], 'omega.db'))\n"
        "assert 'sqlalchemy.engine' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code, str(home)], env=env, check=True)


def test_lazy_default_client_uses_sqlite_in_home(home):
    import omega_jupyter as om

    assert not (home / "omega.db").exists()
    om.datasets.put({"k": "v"}, "thing")
    assert (home / "omega.db").exists()
    assert om.datasets.get("thing") == {"k": "v"}
    assert om.get_default() is om.get_default()
    assert om.bucket == "default"
    assert om["other"].bucket == "other"
    assert not om["other"].datasets.exists("thing")


def test_default_client_follows_environment(tmp_path, monkeypatch):
    import omega_jupyter as om

    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("OMEGA_DATABASE_URL", url)
    monkeypatch.setenv("OMEGA_BUCKET", "envbucket")
    om.reset_default()
    assert om.settings.resolved_database_url == url
    assert om.bucket == "envbucket"


def test_repr_hides_the_password():
    client = omega_jupyter.setup(url="postgresql+psycopg://user:s3cret@db.example:5432/x")
    assert "s3cret" not in repr(client)
    assert "db.example" in repr(client)
