"""The processing pipeline: an ordered tuple of small steps run by one runner."""
