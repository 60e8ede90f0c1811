"""Payloads console: a keyboard-driven terminal console for running integrations."""

__version__ = "0.1.0"
