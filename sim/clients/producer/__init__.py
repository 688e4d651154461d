"""Producer client: KafkaProducer, RecordAccumulator, Sender."""
