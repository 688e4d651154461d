"""One broker cut off from the other brokers, then from ZooKeeper: what stalls, for how long,
and why healing is not the end of it.

3 brokers; topic ``orders`` with 6 partitions, RF 3, min.insync.replicas 2; one keyed producer at
2,000 msg/s of 1 KiB with acks=all; a consumer group of 2; 100 s. Broker 2 leads ``orders-0``
and ``orders-3`` and follows the other four. From 10 s to 50 s it is cut off from the other
brokers (it still reaches ZooKeeper and the clients); from 55 s to 85 s it is cut off from
ZooKeeper alone. A cut link is silence, as a real partition is: what crosses it waits in TCP
until a retransmission after the heal, unless its sender's timeout gives up first.

Question: which of Kafka's timeouts decide how long a partial partition stops an acks=all
producer? (``kafkasim run scenarios/network_partition.py``; read ``events`` and the three plots.)

What to look for (seed 1). From 10 s nothing at all is acknowledged: broker 2 is in every ISR and
the controller still sees it alive (its ZooKeeper session is fine), so acks=all waits for it.
At 45 s the leaders of the four other partitions drop it from their ISRs (``isr_shrink`` rows:
``replica.lag.time.max.ms`` is 30 s, checked every 15 s) and the held records go out (48,928
acknowledged in that second); ``isr.png`` shows 4 under-replicated. Broker 2's own two partitions
stay stuck: their ISR can shrink only through the controller, which broker 2 cannot reach. The
cut heals at 50 s, but nothing changes yet: the followers' fetches to broker 2 wait in TCP. Each
follower gave up its first fetch at 40 s (``replica.socket.timeout.ms``, 30 s) and sent another
on a new connection at 41 s, into the cut; TCP's retransmission timeout, doubling from 200 ms,
tries it next at 53.6 s. Then the fetches go through, broker 2 rejoins the ISRs
(``isr_expand``; its own two partitions' ISR changes reach the controller again) and 30,018
records are acknowledged in that second. From 55 s broker 2 is cut from ZooKeeper: at 75 s its
session expires (``zookeeper.session.timeout.ms`` 18 s, plus the tick), the controller elects
new leaders for its partitions (3 ``leader_election`` rows, one of them ``__consumer_offsets``)
and takes it out of all seven ISRs. Nobody tells broker 2 (the controller stops talking to a
broker it thinks dead), so the producer keeps sending those partitions' records to it, where
acks=all can never complete: two partitions' worth of throughput is missing until the cut heals
at 85 s; broker 2 registers again, follows the new leaders, truncates the few records it
appended alone (``truncate`` rows: never acknowledged), and the producer sends them to the new
leaders. Over the run: ``lost_acked_messages`` 0, ``duplicate_deliveries`` 0,
``unavailable_partition_s`` 0 (there was always a leader), but ``produce_latency_p99_ms`` 41 s;
``recovery_s`` 2.2 after the last heal (``liveness_violations`` 0).
"""

SCENARIO = {
    "name": "network_partition",
    "seed": 1,
    "duration_s": 100.0,
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
            "rate_msgs_s": 2_000,
            "message_bytes": 1024,
            "keys": {"kind": "uniform", "cardinality": 1000},
            "config": {"acks": "all", "linger.ms": 5},
        }
    ],
    "consumer_groups": [
        {
            "group_id": "billing",
            "members": 2,
            "topics": ["orders"],
            "config": {"auto.offset.reset": "earliest"},
        }
    ],
    "faults": [
        {
            "kind": "network_partition",
            "at_s": 10,
            "isolate": 2,
            "from": ["brokers"],
            "heal_after_s": 40,
        },
        {
            "kind": "network_partition",
            "at_s": 55,
            "isolate": 2,
            "from": ["zookeeper"],
            "heal_after_s": 30,
        },
    ],
}
