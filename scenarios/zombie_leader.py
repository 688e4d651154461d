"""acks=1 loses acknowledged writes when a leader is cut off from the cluster but not from its
clients (Jack Vanlightly's "zombie leader"); acks=all loses none.

3 brokers; topic ``orders`` with 6 partitions, RF 3, min.insync.replicas 2; one keyed producer at
10,000 msg/s of 1 KiB with acks=1 (and so without idempotence) and linger.ms 5; a consumer group
of 3; 60 s. At 10 s the leader of orders-0 is cut off from the other brokers and ZooKeeper for 30
s; the producer and the consumers still reach it.

What to look for (``kafkasim run scenarios/zombie_leader.py``): the isolated broker goes on
appending and acknowledging the records of the two partitions it leads, at its old leader epoch:
nothing tells it otherwise, and the producer refreshes its metadata only on errors. Its
followers fetch none of it, so its high watermark stands still and the consumers see none of it
either. When its ZooKeeper session expires (about 17 s later) the controller elects new leaders
from the ISR; when the cut heals, the old leader learns of them, follows, and truncates its log
to the new leaders' end offsets (KIP-101): every record it acknowledged alone is gone, about a
third of the 30 s of traffic (``lost_acked_messages``, and ``truncate`` rows of ``events``).
Run it again with ``--set producers.0.config.acks=all``: the isolated leader cannot grow its
high watermark, so it acknowledges nothing; the producer's requests time out, it finds the new
leaders, and nothing acknowledged is lost; the price is the wait, in produce latency.
"""

SCENARIO = {
    "name": "zombie_leader",
    "seed": 1,
    "duration_s": 60.0,
    "cluster": {"brokers": 3},
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
            "rate_msgs_s": 10_000,
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
        {
            "kind": "network_partition",
            "at_s": 10,
            "isolate": "leader:orders-0",
            "from": ["brokers", "zookeeper"],
            "heal_after_s": 30,
        }
    ],
}
