"""MirrorMaker 2 (KIP-382): replication of topics between the clusters of a scenario."""
