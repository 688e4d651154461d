"""Broker-side components: partition log, replication, controller, election, placement."""
