"""Coordination services the brokers use: a ZooKeeper-like ensemble (later a KRaft quorum)."""
