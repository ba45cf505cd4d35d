import pytest

from headwater.settings import load_settings
from headwater.stack import install
from headwater.stack.errors import StackError

pytestmark = pytest.mark.unit


def test_missing_jdk_says_what_to_install(monkeypatch):
    monkeypatch.setattr(install, "_jdk_candidates", lambda settings: iter(()))
    settings = load_settings({"HEADWATER_JDK_AUTO_INSTALL": "false"})
    with pytest.raises(StackError, match=r"flink needs Java 17.*apt-get install openjdk-17-jdk-headless"):
        install.find_jdk(settings, "flink")


def test_jdk_versions_are_matched_per_component(tmp_path, monkeypatch):
    homes = {}
    for major in (17, 21, 25):
        home = tmp_path / f"jdk{major}"
        (home / "bin").mkdir(parents=True)
        (home / "bin" / "java").touch()
        (home / "release").write_text(f'JAVA_VERSION="{major}.0.1"\n')
        homes[major] = home
    monkeypatch.setattr(install, "_jdk_candidates", lambda settings: iter(homes.values()))
    settings = load_settings({})
    assert install.find_jdk(settings, "flink") == homes[17]
    assert install.find_jdk(settings, "trino") == homes[25]


def test_maven_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    with pytest.raises(StackError, match="apt-get install maven"):
        install._maven(load_settings({}))


def test_pom_lists_what_to_copy(tmp_path):
    pom = install._pom("trino", ["io.trino:trino-cli:476:jar:executable"], False, tmp_path)
    assert "<classifier>executable</classifier>" in pom and "<artifactItems>" in pom
    pom = install._pom("kafka", ["org.apache.kafka:kafka_2.13:4.1.2"], True, tmp_path)
    assert "<artifactId>kafka_2.13</artifactId>" in pom and "artifactItems" not in pom
