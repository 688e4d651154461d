"""A mirror's properties: MirrorMaker 2's names and defaults, and its tasks' client configs."""

from __future__ import annotations

import pytest

from sim.kafka_config import ConfigError, mirror_config


def test_defaults_are_mirrormaker_2s():
    """MirrorSourceConfig.REPLICATION_FACTOR_DEFAULT 2, ConnectorConfig.TASKS_MAX_DEFAULT 1,
    the separator ".", DefaultTopicFilter.TOPICS_EXCLUDE_DEFAULT."""
    cfg = mirror_config({})
    assert cfg.mirror["replication.factor"] == 2
    assert cfg.mirror["tasks.max"] == 1
    assert cfg.mirror["replication.policy.separator"] == "."
    assert cfg.mirror["topics.exclude"] == [".*[\\-\\.]internal", ".*\\.replica", "__.*"]


def test_task_clients_take_mirrormaker_and_connect_settings():
    """sourceConsumerConfig: auto commit off, earliest; Worker.baseProducerConfigs: acks=all,
    no idempotence, one request in flight; then the user's prefixed properties."""
    cfg = mirror_config({"consumer.auto.offset.reset": "latest", "producer.linger.ms": 5})
    assert cfg.consumer["enable.auto.commit"] is False
    assert cfg.consumer["auto.offset.reset"] == "latest"
    assert mirror_config({}).consumer["auto.offset.reset"] == "earliest"
    assert cfg.producer["acks"] == "all"
    assert cfg.producer["enable.idempotence"] is False
    assert cfg.producer["max.in.flight.requests.per.connection"] == 1
    assert cfg.producer["linger.ms"] == 5


def test_consumer_auto_commit_stays_off():
    cfg = mirror_config({"consumer.enable.auto.commit": True})
    assert cfg.consumer["enable.auto.commit"] is False


@pytest.mark.parametrize(
    ("config", "path", "problem"),
    [
        ({"tasks.max": 0}, "mirrors.0.config.tasks.max", "not allowed"),
        ({"task.max": 2}, "mirrors.0.config.task.max", "did you mean 'tasks.max'"),
        ({"producer.acks": "2"}, "mirrors.0.config.producer.acks", "not a valid acks"),
        ({"consumer.nope": 1}, "mirrors.0.config.consumer.nope", "unknown consumer property"),
    ],
)
def test_bad_properties_name_their_path(config, path, problem):
    with pytest.raises(ConfigError, match=problem) as err:
        mirror_config(config, "mirrors.0.config")
    assert str(err.value).startswith(path + ":")


def test_properties_not_modelled_are_accepted():
    assert mirror_config({"emit.checkpoints.interval.seconds": 5}).mirror.given == {
        "emit.checkpoints.interval.seconds"
    }
