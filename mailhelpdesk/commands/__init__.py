"""Implementations of the command-line commands; ``cli`` only parses and dispatches."""
