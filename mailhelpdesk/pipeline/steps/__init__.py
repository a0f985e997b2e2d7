"""Pipeline steps, one concern per module."""
