"""Network edges in one asyncio loop, and the `Workspace` the UI and CLI talk to."""
