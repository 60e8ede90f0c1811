"""The work: inbound processing, outbound requests, the job executor, the event bus."""
