"""Reading does not delete: a consumer group that starts late replays the topic from offset 0,
independently of the group that already read it.

3 brokers; topic ``orders`` with 3 partitions, RF 3 (Kafka's default retention, 7 days, keeps
everything); one keyed producer at 2,000 msg/s of 1 KiB from 0 to 30 s; 60 s. Group ``billing``
(3 members) reads from the start. At 40 s, after the producer stopped, two more groups subscribe
to the same topic: ``audit`` (2 members, auto.offset.reset=earliest) and ``alerts`` (1 member,
auto.offset.reset=latest). None has committed offsets, so auto.offset.reset decides where each
starts.

Question: does consuming remove records, and what does a new group see?

What to look for (``kafkasim run scenarios/replay_new_group.py``, seed 1): ``consumed`` holds
60,003 records for ``billing`` and 60,003 for ``audit``, each from offset 0 of every partition
(``consumed_messages`` 120,006 = twice ``produced_messages``, ``duplicate_deliveries`` 0: a
duplicate is counted within one group, and each group read each record once). ``alerts`` reads
nothing: "latest" starts at the end of the log, and nothing is produced after 30 s. In
``throughput.png`` the consumed line has two spikes: ``billing`` catching up on the
12,000 records produced while its group formed (its first rebalance ends at 6 s, the
``group.initial.rebalance.delay.ms`` of 3 s extended as members join), then ``audit`` reading the
whole 60 MB at 46 s in about 30 ms, as fast as its members' NICs take it (10 Gbit/s; the data is
still in the page cache, so no disk read). ``e2e_latency_p99_ms`` is 45 s: the age of the records
``audit`` replayed. ``consumer_lag.png`` stays near 0: it counts a partition only once a member
of the group holds it, so a backlog waiting for a group that has not joined yet does not show
there. Each group's rebalance is its own (``rebalance_end`` rows in ``events``, one per group).
"""

SCENARIO = {
    "name": "replay_new_group",
    "seed": 1,
    "duration_s": 60.0,
    "cluster": {"brokers": 3},
    "topics": [{"name": "orders", "partitions": 3, "replication_factor": 3}],
    "producers": [
        {
            "name": "app",
            "topic": "orders",
            "rate_msgs_s": 2_000,
            "message_bytes": 1024,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "stop_s": 30.0,
            "config": {"acks": "all", "linger.ms": 5},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 3,
            "topics": ["orders"],
            "config": {"auto.offset.reset": "earliest"},
        },
        {
            "group_id": "audit",
            "members": 2,
            "topics": ["orders"],
            "start_s": 40.0,
            "config": {"auto.offset.reset": "earliest"},
        },
        {
            "group_id": "alerts",
            "members": 1,
            "topics": ["orders"],
            "start_s": 40.0,
            "config": {"auto.offset.reset": "latest"},
        },
    ],
}
