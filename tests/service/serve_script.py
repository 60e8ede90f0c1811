"""A headless service for the crash test, as `payloads serve` runs it (`commit_on_loop`):
demo workspace + a `load` integration, ephemeral port.

Usage: `python serve_script.py <home>`. Prints `READY <http port>` once it answers; on
SIGTERM it stops the service and closes the workspace. `kill -9` is the point.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from payloads_tui.domain.models import ExternalApi, FieldMapping, InboundPayload, Integration, Target
from payloads_tui.domain.errors import NotFoundError
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import Limits, Settings

LOAD_SLUG = "load"


def load_integration() -> Integration:
    """`POST /api/load/ping` (auth none) upserts a `Ping` record on `key`."""
    return Integration(
        slug=LOAD_SLUG,
        name="Load",
        description="Crash-test and benchmark traffic.",
        inbound=[
            InboundPayload(
                name="Ping",
                content_type="json",
                targets=[
                    Target(
                        name="Ping",
                        object="Ping",
                        items="@",
                        operation="upsert",
                        match_key=["key"],
                        mappings=[FieldMapping(field="key", expression="key"), FieldMapping(field="n", expression="n")],
                    )
                ],
            )
        ],
        apis=[ExternalApi(path="ping", payload="Ping", auth="none", description="No auth: test traffic only.")],
    )


def open_workspace(home: Path) -> Workspace:
    workspace = Workspace(Settings(home=home, limits=Limits(outbound_concurrency=1)))
    workspace.seed_demo()
    try:
        workspace.integration(LOAD_SLUG)
    except NotFoundError:
        workspace.create_integration(load_integration())
    return workspace


async def serve(home: Path) -> None:
    workspace = open_workspace(home)
    service = Service(workspace, http=("127.0.0.1", 0), smtp=False, commit_on_loop=True)  # as `payloads serve`
    await service.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"READY {service.http_url.rsplit(':', 1)[1]}", flush=True)  # type: ignore[union-attr]
    await stop.wait()
    await service.stop()
    workspace.close()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
