"""Does a rolling restart of the cluster cost the producer anything? The default scenario's load
through a controlled rolling restart of its 3 brokers.

3 brokers; topic ``orders`` with 6 partitions, RF 3, min.insync.replicas 2; one keyed producer at
10,000 msg/s of 1 KiB with acks=all and linger.ms=5; a consumer group of 3; 60 s. At 20 s each
broker in turn (1, 2, then 0, the controller, last) shuts down cleanly, is down 5 s, starts
again, and the next one waits until no partition is under-replicated.

What to look for (``kafkasim run scenarios/rolling_restart.py``): the ``events`` rows whose
``fault`` is ``rolling_restart`` give each broker's stop (``fault``, ``broker_stopped``), start
(``fault_end``) and the end of the wait after it (``rolling_step``, outcome ``isr_full``, or
``wait_capped`` if it took longer than ``max_wait_s``). A controlled shutdown
moves the broker's leaderships and takes it out of the ISRs before it stops, so with two replicas
left in every ISR no acknowledged record is lost (``lost_acked_messages`` 0) and the producer
pauses only while leaders move (well under a second: the gaps in the acknowledged rate, and the
p99 produce latency). Run it with ``--set faults.0.mode=hard --set duration_s=90`` for crashes
instead: then every partition waits for the dead broker until ZooKeeper expires its session
(about 18 s), and a broker restarted within that time cannot register until then.
"""

SCENARIO = {
    "name": "rolling_restart",
    "seed": 1,
    "duration_s": 60.0,
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
    "faults": [{"kind": "rolling_restart", "at_s": 20, "mode": "controlled", "down_s": 5}],
}
