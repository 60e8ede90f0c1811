"""Widgets of the console: tables, panes, forms; they post past-tense messages, screens decide."""
