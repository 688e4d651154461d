"""acks=1 loses acknowledged records when a leader crashes; acks=all loses none and pays in
latency.

3 brokers; topic ``orders`` with 6 partitions, RF 3, min.insync.replicas 2; one keyed producer at
3,000 msg/s of 1 KiB, acks=1, linger.ms 5; a consumer group of 3; 60 s. Broker 1's links to the
other brokers carry 10 ms more each way (its followers are, say, in another zone), so its
followers are always about a replication round trip behind it (for the whole run, so the run
warns that liveness is not checked). At 20 s broker 1 crashes; it restarts 20 s later.

Question: what does the producer's ``acks`` buy? Run it twice::

    kafkasim run scenarios/acks_durability.py
    kafkasim run scenarios/acks_durability.py --set producers.0.config.acks=all

(a sweep over ``producers.0.config.acks`` gives both in one table).

What to look for (seed 1). With acks=1 broker 1 acknowledges each batch as soon as it is in its
own log, so when it dies its two partitions hold records that it acknowledged and no follower
fetched yet. ZooKeeper expires its session 19 s later (``zookeeper.session.timeout.ms`` 18 s)
and the controller elects new leaders from the ISR; when broker 1 restarts it truncates to their
end offsets (KIP-101): ``lost_acked_messages`` 29, the two ``truncate`` rows of ``events`` (18
and 11 records), about the rate of its two partitions × the replication delay. Meanwhile the
other four partitions take writes: throughput drops to two thirds, 2,000 msg/s
(``throughput.png``), produce latency p50 3.5 ms; the p99 of 18.7 s is the records of
the two leaderless partitions (``unavailable_partition_s`` 38), held until the election.

With acks=all nothing acknowledged is lost (``lost_acked_messages`` 0): a record is acknowledged
only once every ISR member has it. The price shows twice. Before the crash produce latency p50 is
113 ms instead of 3.5 ms: each request waits for the followers' next fetch across the slow
links, and a broker reads a connection's next request only after answering the previous one, so
the producer's five in-flight requests queue. And from the crash to the election nothing is
acknowledged on any partition (the throughput plot drops to zero for 19 s): the dead broker is
still in every ISR until the controller removes it, and acks=all waits for the whole ISR.
"""

SCENARIO = {
    "name": "acks_durability",
    "seed": 1,
    "duration_s": 60.0,
    "cluster": {"brokers": 3, "config": {"group.initial.rebalance.delay.ms": 0}},
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
            "topic": "orders",
            "rate_msgs_s": 3_000,
            "message_bytes": 1024,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "config": {"acks": "1", "linger.ms": 5},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 3,
            "topics": ["orders"],
            "config": {"auto.offset.reset": "earliest"},
        }
    ],
    "faults": [
        {"kind": "slow_network", "at_s": 0, "between": [1, 0], "extra_delay_ms": 10},
        {"kind": "slow_network", "at_s": 0, "between": [1, 2], "extra_delay_ms": 10},
        {"kind": "crash_broker", "at_s": 20, "broker": 1, "restart_after_s": 20},
    ],
}
