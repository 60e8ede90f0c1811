"""Snapshots of the forms and dialogs at 80×24 and 120×40: each opened over the home screen.

Regenerate after a deliberate change with
`pytest tests/tui/test_form_snapshots.py --snapshot-update`, after looking at the new SVGs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp
from payloads_tui.tui.screens.bundle_forms import ExportForm, ImportForm
from payloads_tui.tui.screens.compose_email import ComposeEmailForm
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.credential_form import CredentialForm
from payloads_tui.tui.screens.endpoint_forms import ApiForm, EmailForm
from payloads_tui.tui.screens.integration_form import IntegrationForm
from payloads_tui.tui.screens.run_outbound import RunOutboundScreen
from payloads_tui.tui.screens.try_inbound import TryInboundScreen
from tests.tui.conftest import CUSTOMER_CREATE, CUSTOMER_WEBHOOK
from tests.tui.conftest import wait_for
from tests.tui.test_snapshots import SIZES, drive

Opener = Callable[[Workspace], Screen]

FORMS: dict[str, Opener] = {
    "new_integration": lambda ws: IntegrationForm(),
    "edit_integration": lambda ws: IntegrationForm(ws.integration("stripe")),
    "new_credential": lambda ws: CredentialForm(ws.integration("stripe")),
    "edit_credential": lambda ws: CredentialForm(ws.integration("stripe"), ws.integration("stripe").credentials[0]),
    "new_api": lambda ws: ApiForm(ws.integration("stripe")),
    "edit_api": lambda ws: ApiForm(ws.integration("stripe"), ws.integration("stripe").apis[0]),
    "new_email": lambda ws: EmailForm(ws.integration("stripe")),
    "compose_email": lambda ws: ComposeEmailForm(ws.integration("stripe").emails[0].address),
    "export": lambda ws: ExportForm("stripe", "Stripe"),
    "import": lambda ws: ImportForm(),
    "confirm_delete": lambda ws: ConfirmScreen("Delete integration Stripe?", detail="Its payloads, APIs, "
                                               "emails and credentials go with it; its jobs stay."),
    "try_inbound": lambda ws: TryInboundScreen("stripe", ws.inbound_payload("stripe", CUSTOMER_WEBHOOK)[1]),
    "run_outbound": lambda ws: RunOutboundScreen(
        "stripe", next(p for p in ws.integration("stripe").outbound if p.name == CUSTOMER_CREATE)),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("form", list(FORMS))
def test_form(snap_compare, app: PayloadsApp, workspace: Workspace, size: tuple[int, int], form: str) -> None:
    screen = FORMS[form](workspace)
    settle = drive(push=lambda a: a.push_screen(screen))

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        # under load focus can lag behind the fixed pauses: wait until the form has it
        await wait_for(pilot, lambda: app.screen is screen and app.focused is not None
                       and app.focused.screen is screen, what="the form to take focus")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
