"""Pure logic: models, content formats, mapping, signatures. No I/O, no asyncio."""
