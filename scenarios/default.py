"""The default scenario: a leader crash under a steady keyed load.

3 brokers; topic ``orders`` with 6 partitions, RF 3, min.insync.replicas 2; one keyed producer at
10,000 msg/s of 1 KiB with acks=all and linger.ms=5 (pinned: Kafka 3.9's default is 0); a consumer
group of 3; 120 s; the leader of orders-0 crashes at 60 s and restarts 30 s later.

Until ZooKeeper expires the crashed broker's session (about 15 s) no partition can take an
acks=all write: two have no leader, and the ISRs of the other four still hold the dead follower.
The producer's 32 MiB of buffer.memory fill in about 3 s, and then its send() blocks until the
controller elects new leaders and shrinks the ISRs: the records that waited carry that wait in
their latency.
"""

SCENARIO = {
    "name": "default",
    "seed": 1,
    "duration_s": 120.0,
    "cluster": {
        "brokers": 3,
        "coordination": "zookeeper",
        "config": {"unclean.leader.election.enable": False},
        "hardware": {"network_gbps": 10, "rtt_ms": 0.5, "disk_write_mb_s": 500},
    },
    "topics": [
        {
            "name": "orders",
            "partitions": 6,
            "replication_factor": 3,
            "config": {"min.insync.replicas": 2},
        }
    ],
    "producers": [
        {
            "name": "app",
            "count": 1,
            "topic": "orders",
            "rate_msgs_s": 10_000,
            "message_bytes": 1024,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "config": {"acks": "all", "linger.ms": 5},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 3,
            "topics": ["orders"],
            "processing_ms": 0.1,
            "start_s": 0.0,
            "config": {"partition.assignment.strategy": "range", "auto.offset.reset": "earliest"},
        }
    ],
    "faults": [
        {"kind": "crash_broker", "at_s": 60, "broker": "leader:orders-0", "restart_after_s": 30}
    ],
}
