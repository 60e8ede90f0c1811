"""The Textual console: screens and widgets over a `Workspace`."""
