"""What a member joining and a member crashing cost a consumer group: eager rebalancing,
cooperative-sticky (KIP-429) and static membership (KIP-345).

3 brokers; topic ``orders`` with 12 partitions, RF 3; one keyed producer at 2,000 msg/s of 1 KiB;
group ``billing`` of 3 members (0.2 ms per record), assignor ``range``, session.timeout.ms 10 s;
60 s. At 20 s a fourth member joins; at 35 s member ``billing-1`` crashes (no LeaveGroup) and
its process restarts 5 s later.

Question: how long does each kind of rebalance stop consumption, and on how many partitions?
Compare::

    kafkasim run scenarios/rebalance_protocols.py
    kafkasim run scenarios/rebalance_protocols.py \\
        --set consumer_groups.0.config.partition.assignment.strategy=cooperative-sticky
    kafkasim run scenarios/rebalance_protocols.py --set consumer_groups.0.static=true

and read the ``rebalance_start`` / ``rebalance_end`` / ``partitions_revoked`` rows of ``events``
(each ``rebalance_end`` gives the generation, members and ``duration_s``).

What to look for (seed 1). Eager (range): the join at 20 s makes every member revoke all its
partitions before rejoining (three ``partitions_revoked`` rows of four partitions each); the
rebalance ends 1.0 s later. The crashed member's three partitions go unread from 35 s; its
restart at 40 s joins as a new member, and the rebalance it starts completes only when the dead
member's session expires, at 43 s (``duration_s`` 3.0); at its end every member has revoked
everything, so consumption stops entirely for about a second (9 records in second 42), then
catches up. ``rebalances`` 2 (the group's formation is not counted), ``rebalance_time_s`` 4.0,
``max_partition_pause_s`` 8.4 (the longest a partition's records waited with nobody polling).
Cooperative-sticky: the join revokes one partition per member (``moved to another member``) and
needs a second rebalance, which waits about 3 s for the members to hear of it through their
heartbeats (``heartbeat.interval.ms``); during both, the other nine partitions are read without
a pause. The crash costs one rebalance of 4 s that never stops the others. ``rebalances`` 3,
``rebalance_time_s`` 8.0: more rebalancing, less stopping, though the crashed member's partitions
wait longest here (``max_partition_pause_s`` 9.4). Static membership (range): the restart
at 40 s comes back with the same ``group.instance.id`` before the 10 s session timeout, so there
is no rebalance at all (``rebalances`` 1, the join); the member's partitions wait 5 s
(``max_partition_pause_s`` 5.4) and it catches up (6,037 records in second 40); ``recovery_s``
after the restart 0.9 s against 4.1 s (eager) and 4.7 s (cooperative). In every mode the crashed
member's records since its last auto-commit (``auto.commit.interval.ms`` 5 s) are read again:
``duplicate_deliveries`` 1,830 (eager and static), 515 (cooperative).
"""

SCENARIO = {
    "name": "rebalance_protocols",
    "seed": 1,
    "duration_s": 60.0,
    "cluster": {"brokers": 3},
    "topics": [{"name": "orders", "partitions": 12, "replication_factor": 3}],
    "producers": [
        {
            "name": "app",
            "topic": "orders",
            "rate_msgs_s": 2_000,
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
            "processing_ms": 0.2,
            "static": False,
            "config": {
                "partition.assignment.strategy": "range",
                "session.timeout.ms": 10_000,
                "auto.offset.reset": "earliest",
            },
        }
    ],
    "faults": [
        {"kind": "add_consumer", "at_s": 20, "group": "billing"},
        {
            "kind": "crash_consumer",
            "at_s": 35,
            "group": "billing",
            "member": 1,
            "restart_after_s": 5,
        },
    ],
}
