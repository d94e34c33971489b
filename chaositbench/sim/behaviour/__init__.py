"""The behaviour model: how simulated workloads behave, from their declared needs and the real objects."""
