from pathlib import Path

import pytest

from headwater.settings import SettingsError, load_settings

pytestmark = pytest.mark.unit


def test_local_defaults_bind_loopback():
    s = load_settings({})
    assert s.profile == "local"
    assert s.bind_host == "127.0.0.1"
    assert s.kafka.bootstrap_servers.startswith("127.0.0.1:")
    assert s.warehouse.startswith("file:///")
    assert s.spark.jit == "full"
    assert load_settings({"HEADWATER_SPARK__JIT": "quick"}).spark.jit == "quick"


def test_environment_overrides_nested_values():
    s = load_settings({"HEADWATER_KAFKA__BOOTSTRAP_SERVERS": "broker:19092", "HEADWATER_FLINK__PARALLELISM": "3",
                       "HEADWATER_CATALOG__PROPERTIES": "io-impl=x,s3.endpoint=http://minio:9000"})
    assert s.kafka.port == 19092
    assert s.flink.parallelism == 3
    assert s.catalog.properties == {"io-impl": "x", "s3.endpoint": "http://minio:9000"}


def test_file_then_profile_then_environment(tmp_path: Path):
    cfg = tmp_path / "headwater.yaml"
    cfg.write_text(
        "trino: {port: 18080}\n"
        "profiles:\n"
        "  local: {trino: {port: 28080}, producer: {rate: 7}}\n"
    )
    s = load_settings({"HEADWATER_CONFIG": str(cfg), "HEADWATER_PRODUCER__RATE": "9"})
    assert s.trino.port == 28080
    assert s.producer.rate == 9.0


def test_cluster_profile_needs_every_endpoint():
    with pytest.raises(SettingsError, match="HEADWATER_KAFKA__BOOTSTRAP_SERVERS"):
        load_settings({"HEADWATER_PROFILE": "cluster"})


def test_cluster_profile_with_endpoints():
    env = {"HEADWATER_PROFILE": "cluster", "HEADWATER_KAFKA__BOOTSTRAP_SERVERS": "k:9092",
           "HEADWATER_POSTGRES__HOST": "pg", "HEADWATER_POSTGRES__PASSWORD": "pw",
           "HEADWATER_CATALOG__WAREHOUSE": "s3://lake/warehouse", "HEADWATER_FLINK__REST_URL": "http://jm:8081",
           "HEADWATER_TRINO__HOST": "trino", "HEADWATER_CONNECT__HOST": "connect"}
    s = load_settings(env)
    assert s.connect.url == "http://connect:8083"
    props = s.iceberg_catalog_properties()
    assert props["uri"] == "jdbc:postgresql://pg:5432/iceberg"
    assert props["jdbc.schema-version"] == "V1"
    assert props["warehouse"] == "s3://lake/warehouse"


@pytest.mark.parametrize("env, message", [
    ({"HEADWATER_PROFILE": "prod"}, "choose one of local, cluster"),
    ({"HEADWATER_KAFKA__NOPE": "1"}, "unknown setting kafka.nope"),
    ({"HEADWATER_FLINK__PARALLELISM": "many"}, "flink.parallelism='many' is not a valid int"),
    ({"HEADWATER_CONFIG": "/nonexistent/headwater.yaml"}, "does not exist"),
    ({"HEADWATER_SPARK__JIT": "fast"}, "spark.jit='fast': choose one of full, quick"),
    ({"HEADWATER_FLINK__STATE_BACKEND": "heap"}, "flink.state_backend='heap': choose one of rocksdb, hashmap"),
    ({"HEADWATER_SPARK__CONNECT_URL": "http://spark:15002"}, "a Spark Connect URL is sc://host:port"),
])
def test_bad_settings_say_what_is_wrong(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_local_password_missing_says_how_to_get_one(tmp_path: Path):
    s = load_settings({"HEADWATER_RUN_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="make up"):
        _ = s.postgres_password


def test_landing_directory_defaults_under_the_run_dir_and_can_be_set(tmp_path: Path):
    assert load_settings({"HEADWATER_RUN_DIR": str(tmp_path)}).landing_dir == tmp_path.resolve() / "landing"
    elsewhere = tmp_path / "drops"
    assert load_settings({"HEADWATER_LANDING": str(elsewhere)}).landing_dir == elsewhere.resolve()


def test_spark_jobs_run_on_the_local_connect_server_unless_told_otherwise():
    assert load_settings({}).spark_remote == "sc://127.0.0.1:15002"
    assert load_settings({"HEADWATER_SPARK__CONNECT_PORT": "25002"}).spark_remote == "sc://127.0.0.1:25002"
    assert load_settings({"HEADWATER_SPARK__CONNECT": "false"}).spark_remote is None
    given = load_settings({"HEADWATER_SPARK__CONNECT_URL": "sc://spark-connect:15002"})
    assert given.spark_remote == "sc://spark-connect:15002"


def test_cluster_jobs_use_a_connect_server_only_when_given_one():
    env = {"HEADWATER_PROFILE": "cluster", "HEADWATER_KAFKA__BOOTSTRAP_SERVERS": "k:9092",
           "HEADWATER_POSTGRES__HOST": "pg", "HEADWATER_CATALOG__WAREHOUSE": "s3://lake/warehouse",
           "HEADWATER_FLINK__REST_URL": "http://jm:8081", "HEADWATER_TRINO__HOST": "trino",
           "HEADWATER_CONNECT__HOST": "connect"}
    assert load_settings(env).spark_remote is None  # spark-submit on spark.master
    remote = load_settings({**env, "HEADWATER_SPARK__CONNECT_URL": "sc://connect.spark:15002"})
    assert remote.spark_remote == "sc://connect.spark:15002"
