import subprocess
from pathlib import Path

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


def _spark(tmp_path, env: dict[str, str]):
    from headwater.stack.spark import Spark

    # a password of its own: the catalog properties need one, and a clean checkout has none yet
    spark = Spark(load_settings({"HEADWATER_CACHE_DIR": str(tmp_path / "cache"),
                                 "HEADWATER_RUN_DIR": str(tmp_path / "run"),
                                 "HEADWATER_POSTGRES__PASSWORD": "unit-test", **env}))
    spark.venv, spark.java_home, spark.jars = tmp_path / "venv", tmp_path / "jdk", tmp_path / "jars"
    spark.jars.mkdir(exist_ok=True)
    for name in ("iceberg-spark-runtime.jar", "postgresql.jar"):
        (spark.jars / name).write_bytes(b"jar")
    spark.local_fs_jar = tmp_path / "headwater-hadoop-fs.jar"
    spark.local_fs_jar.write_bytes(b"jar")
    return spark


def test_spark_jars_go_on_the_driver_class_path_and_to_a_cluster(tmp_path):
    local = _spark(tmp_path, {}).conf()
    engine_jars = [str(tmp_path / "jars" / "iceberg-spark-runtime.jar"), str(tmp_path / "jars" / "postgresql.jar")]
    assert local["spark.driver.extraClassPath"].split(":") == [*engine_jars, str(tmp_path / "headwater-hadoop-fs.jar")]
    assert local["spark.hadoop.fs.file.impl"] == "headwater.hadoop.PosixLocalFileSystem"
    assert "spark.jars" not in local  # one JVM: the class path serves the local executors too
    cluster = _spark(tmp_path, {"HEADWATER_SPARK__MASTER": "spark://master:7077"}).conf()
    # a cluster's executors keep Hadoop's own file system: the project's jar is local-only
    assert cluster["spark.jars"].split(",") == engine_jars
    assert "spark.hadoop.fs.file.impl" not in cluster


def test_the_class_archive_is_named_after_what_it_holds(tmp_path):
    spark = _spark(tmp_path, {})
    first = spark.class_archive()
    assert first.parent == tmp_path / "cache" / "spark-classes" and first == spark.class_archive()
    (spark.jars / "another.jar").write_bytes(b"jar")
    assert spark.class_archive() != first  # another jar set: another archive, the old one is not mapped


def test_the_class_archive_is_recorded_by_a_local_warm_up_even_for_a_cluster(tmp_path, monkeypatch):
    spark = _spark(tmp_path, {"HEADWATER_SPARK__MASTER": "spark://master:7077"})
    seen = {}

    def fake_run(argv, **kwargs):
        seen.update(a.split("=", 1) for a in argv if "=" in a and a.startswith("spark."))
        archive = next(a.split("ArchiveClassesAtExit=", 1)[1] for a in argv if "ArchiveClassesAtExit=" in a)
        Path(archive).write_bytes(b"archive")
        return subprocess.CompletedProcess(argv, 0, stdout="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert spark.ensure_class_archive() == spark.class_archive() and spark.class_archive().exists()
    assert seen["spark.master"] == "local[2]" and "spark.jars" not in seen


def test_driver_options_map_a_recorded_archive_and_follow_the_jit_setting(tmp_path):
    full = _spark(tmp_path, {"HEADWATER_SPARK__JIT": "full"})
    assert full.driver_java_options() == ""  # no archive recorded yet: nothing to map
    full.class_archive().parent.mkdir(parents=True)
    full.class_archive().write_bytes(b"archive")
    assert full.driver_java_options() == f"-XX:SharedArchiveFile={full.class_archive()}"
    quick = _spark(tmp_path, {"HEADWATER_SPARK__JIT": "quick", "HEADWATER_SPARK__CLASS_DATA_SHARING": "false"})
    assert quick.driver_java_options() == "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
