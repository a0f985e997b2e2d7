"""Transports: they get raw bytes in durably and never parse."""
