"""Two regions, active-passive: east is lost at 60 s and its consumer group fails over to west.

Clusters ``east`` and ``west``, 3 brokers each, 60 ms apart on a 1 Gb/s WAN. Topic ``orders``
in east (6 partitions, RF 3, min.insync.replicas 2) takes a producer at 1,000 msg/s of 1 KiB
with acks=all; group ``billing`` reads it in east (auto commit every 5 s, the default). A mirror
east → west (2 tasks, remote topics with 3 replicas) copies it to ``east.orders`` and
checkpoints billing's offsets every 10 s (``emit.checkpoints.interval.seconds``; at the default
60 s the first checkpoint would be due as east is lost, and billing would start over from its
``auto.offset.reset``). At 60 s every node of east goes down (``cluster_outage``) and billing
fails over to west (``failover``): it reads ``east.orders`` from its last checkpoint. 90 s.

Question: after losing a region, how much does the group read twice, and what does it never
read? (``kafkasim run scenarios/multi_cluster_failover.py``: the summary's ``failover_*``
fields; the ``checkpoints``, ``failovers`` and ``failover_audit`` tables.)

What to look for (seed 1). Checkpoints every 10.06 s (the interval, then the OffsetFetch across
the WAN); the last before the loss at 50.3 s. Billing's committed offsets then (auto commit
every 5 s) were 7,242 to 8,514 per partition; translated, it resumes 23 to 373 records before
them (``checkpoints``: upstream 8,003 → downstream 7,677): the offset store keeps its syncs
exponentially spaced, and billing's offset lagged the latest sync by up to 5 s of records, so
the sync below it is several ``offset.lag.max`` (100) older. Billing had read 60,224 records
in east by 60 s; in west it reads from 63.0 s (a new group: ``group.initial.rebalance.delay
.ms``) and reads 13,301 of them again (``failover_reread_messages``: the 9.7 s since the
checkpoint, the 5 s its commits lag, the translation); 1 record it never reads
(``failover_unread_messages``: appended in east 3 ms before the loss, never mirrored;
``failover_rpo_s`` 0.003), none that west held (``failover_unread_mirrored_messages`` 0).
``unconsumed_messages`` (46,870) counts west's copies that billing had read in east already.
The rest of the summary is the lost region's: ``unavailable_partition_s`` 210 (east's 6
partitions of ``orders`` and its one of ``__consumer_offsets``, 30 s each, never elected
again), ``pending_messages`` 29,763 (what east's producer was offered after the loss, still
waiting), and ``throughput_msgs_s`` 1,338 counts the mirror's copies in west beside the
originals (docs/multi_cluster.md).
"""

SCENARIO = {
    "name": "multi_cluster_failover",
    "seed": 1,
    "duration_s": 90.0,
    "clusters": [{"name": "east", "brokers": 3}, {"name": "west", "brokers": 3}],
    "wan": {"rtt_ms": 60.0, "bandwidth_gbps": 1.0},
    "topics": [
        {"name": "orders", "cluster": "east", "partitions": 6, "replication_factor": 3,
         "config": {"min.insync.replicas": 2}},
    ],
    "producers": [
        {"name": "app", "cluster": "east", "topic": "orders", "rate_msgs_s": 1000,
         "message_bytes": 1024, "config": {"acks": "all"}},
    ],
    "consumer_groups": [
        {"group_id": "billing", "cluster": "east", "topics": ["orders"],
         "config": {"auto.offset.reset": "earliest"}},
    ],
    "mirrors": [
        {"source": "east", "target": "west", "topics": "orders",
         "config": {"tasks.max": 2, "replication.factor": 3,
                    "emit.checkpoints.interval.seconds": 10}},
    ],
    "faults": [
        {"kind": "cluster_outage", "cluster": "east", "at_s": 60.0},
        {"kind": "failover", "group": "billing", "to": "west", "at_s": 60.0},
    ],
}  # fmt: skip
