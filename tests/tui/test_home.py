"""The home screen: the integration list and its keys (open, new, edit, delete, filter, export, import)."""

from __future__ import annotations

import json
from pathlib import Path

from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.integration_form import IntegrationForm
from payloads_tui.tui.widgets.keyed_table import KeyedTable
from tests.tui.conftest import text_of, type_text, wait_for


async def test_home_lists_integrations_with_their_figures(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#integrations-table", KeyedTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the Stripe row")
        row = table.row_values("stripe")
        assert row is not None
        assert (row["inbound"], row["outbound"], row["jobs"]) == ("5", "3", "5")
        assert str(row["failures"]) == "2"


async def test_enter_opens_the_integration_and_esc_comes_back(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen), what="the integration screen")
        assert app.screen.slug == "stripe"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, IntegrationScreen))
        assert app.screen.id == "integrations-screen"


async def test_n_creates_an_integration_from_the_keyboard(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationForm))
        await type_text(pilot, "Shopify Orders")
        assert app.screen.query_one("#f-slug").value == "shopify-orders"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, IntegrationForm))
        assert workspace.integration("shopify-orders").name == "Shopify Orders"
        table = app.screen.query_one("#integrations-table", KeyedTable)
        assert table.cursor_key == "shopify-orders"


async def test_a_bad_slug_is_shown_next_to_its_field(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationForm))
        await type_text(pilot, "Stripe")  # slug "stripe" is taken
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, IntegrationForm), "the form stays open on an error"
        shown = [text_of(s) for s in app.screen.query(".field-error, .form-error") if s.display]
        assert any("stripe" in text for text in shown), shown
        assert [i.slug for i in workspace.integrations()] == ["stripe"]


async def test_d_deletes_only_after_confirmation(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert [i.slug for i in workspace.integrations()] == ["stripe"]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: workspace.integrations() == [], what="the deletion")
        table = app.screen.query_one("#integrations-table", KeyedTable)
        await wait_for(pilot, lambda: table.row_count == 0)


async def test_slash_filters_and_esc_clears(app: PayloadsApp, workspace: Workspace) -> None:
    from payloads_tui.domain.models import Integration

    workspace.create_integration(Integration(slug="hubspot", name="HubSpot"))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#integrations-table", KeyedTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("slash")
        await type_text(pilot, "hub")
        await wait_for(pilot, lambda: table.keys == ["hubspot"])
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 2)


async def test_export_then_import_under_a_new_slug(app: PayloadsApp, workspace: Workspace, tmp_path: Path) -> None:
    bundle = tmp_path / "stripe-bundle.json"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        path_input = app.screen.query_one("#f-path")
        path_input.value = str(bundle)
        await pilot.press("ctrl+s")
        await wait_for(pilot, bundle.exists, what="the bundle file")
        assert json.loads(bundle.read_text())  # a JSON bundle
        await wait_for(pilot, lambda: any(n.message == f"Exported stripe to {bundle} without secrets."
                                          for n in app._notifications), what="the notification")
        await pilot.press("i")
        await pilot.pause()
        app.screen.query_one("#f-path").value = str(bundle)
        app.screen.query_one("#f-conflict").value = "rename"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(workspace.integrations()) == 2, what="the import")
        table = app.screen.query_one("#integrations-table", KeyedTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="the imported row")


async def test_a_bundle_path_that_cannot_be_written_is_said_in_the_form(app: PayloadsApp, tmp_path: Path) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("x")
        await pilot.pause()
        form = app.screen
        target = str(tmp_path / "missing-dir" / "nested" / "b.json")
        form.query_one("#f-path").value = target
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Could not export the bundle" in text_of(form.query_one("#form-error")),
                       what="the error in the form")
        assert app.screen is form and form.query_one("#f-path").value == target, "kept, to correct and retry"


def test_variables_keep_commas_inside_values_and_refuse_a_name_given_twice() -> None:
    import pytest

    from payloads_tui.domain.errors import ValidationError
    from payloads_tui.tui.screens.integration_form import parse_variables

    assert parse_variables("base_url=http://a.example/?q=1,2, region=eu,") == {
        "base_url": "http://a.example/?q=1,2", "region": "eu"}
    with pytest.raises(ValidationError, match="variable 'x' is given twice"):
        parse_variables("x=1, x=2, base_url=http://a.example")
    with pytest.raises(ValidationError, match="is not name=value"):
        parse_variables("=1")
