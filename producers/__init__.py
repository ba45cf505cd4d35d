"""Event generators for the bakery-café domain and the Kafka producer that sends them."""
