"""`python -m payloads_tui` runs the CLI."""

from payloads_tui.cli import main

main()
