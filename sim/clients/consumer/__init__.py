"""The consumer client (≈ Kafka's KafkaConsumer: Fetcher, SubscriptionState, metadata)."""

from sim.clients.consumer.kafka_consumer import KafkaConsumer

__all__ = ["KafkaConsumer"]
