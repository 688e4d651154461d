"""Two regions joined by MirrorMaker 2, and the WAN between them cut for 20 s.

Clusters ``east`` and ``west``, 3 brokers each, 60 ms apart on a 1 Gb/s WAN. Topic ``orders``
in east (6 partitions, RF 3, min.insync.replicas 2) takes a keyed producer at 2,000 msg/s of
1 KiB with acks=all; group ``billing`` reads it in east. A mirror east → west (2 tasks, remote
topics with 3 replicas) copies it to ``east.orders`` in west, where group ``dr`` reads it from
the earliest offset. From 30 s to 50 s the WAN is cut. 90 s.

Question: how far behind is the replica region, and how long after the WAN heals does it catch
up? (``kafkasim run scenarios/multi_cluster.py``; read the ``mirrors`` table.)

What to look for (seed 1). Before the cut the mirror runs 100 to 250 records behind (``lag_s``
at most 0.12 s: a fetch across the 60 ms WAN, then a local produce). At 30 s the WAN is cut: the
lag grows by the 2,000 records a second east keeps acknowledging, to 58,988 records and 29.7 s
at 59.6 s. The WAN heals at 50 s, yet nothing moves for ten more seconds: the fetch each task
had in flight at the cut waits in TCP, whose retransmission timeout has doubled while the WAN
was cut (its last try at 46.4 s, the next due at 63 s), and its consumer gives up on it first,
at ``request.timeout.ms`` (30 s, from 30 s), and fetches again on a new connection
(``consumer.request.timeout.ms`` in the mirror's config shortens that). From 60 s the backlog,
about 60 MB, crosses the 1 Gb/s WAN in under a second: the lag is 181 records at 61.9 s and
back to its usual level after. ``mirrored_messages`` 179,100, every
one of them read by ``dr``; ``mirror_missing_messages``, ``mirror_duplicate_messages`` and
``mirror_out_of_order`` 0.
"""

SCENARIO = {
    "name": "multi_cluster",
    "seed": 1,
    "duration_s": 90.0,
    "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 3}],
    "wan": {"rtt_ms": 60.0, "bandwidth_gbps": 1.0},
    "topics": [
        {"name": "orders", "cluster": "east", "partitions": 6, "replication_factor": 3,
         "config": {"min.insync.replicas": 2}},
    ],
    "producers": [
        {"name": "app", "cluster": "east", "topic": "orders", "rate_msgs_s": 2000,
         "message_bytes": 1024, "keys": {"kind": "uniform", "cardinality": 10000},
         "config": {"acks": "all"}},
    ],
    "consumer_groups": [
        {"group_id": "billing", "cluster": "east", "topics": ["orders"]},
        {"group_id": "dr", "cluster": "west", "topics": ["east.orders"],
         "config": {"auto.offset.reset": "earliest"}},
    ],
    "mirrors": [
        {"source": "east", "target": "west", "topics": "orders",
         "config": {"tasks.max": 2, "replication.factor": 3}},
    ],
    "faults": [{"kind": "wan_partition", "at_s": 30.0, "heal_after_s": 20.0}],
}  # fmt: skip
