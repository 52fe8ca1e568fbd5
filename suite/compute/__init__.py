"""What runs on the device: data, models, device and precision, the training loop, evaluation,
latency, packing models."""
