"""Kafka client components: partitioner, assignors, producer, consumer."""
