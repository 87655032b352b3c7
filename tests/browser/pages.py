"""Reading the console's pages as a user sees them: the rows of a table, the state of a dialog."""

from __future__ import annotations

from playwright.sync_api import Page, expect

ROWS_JS = """table => [...document.querySelectorAll(table + ' tbody tr')].map(tr => Object.fromEntries(
  [...tr.querySelectorAll('td[data-column]')].map(td => [td.dataset.column, td.textContent.trim()])))"""


def shown_rows(page: Page, table: str = "table.sessions") -> list[dict[str, str]]:
    return page.evaluate(ROWS_JS, table)


def shown_column(page: Page, column: str, table: str = "table.sessions") -> list[str]:
    return [row[column] for row in shown_rows(page, table)]


def open_instance(page: Page, instance_id: str, tab: str = "") -> None:
    suffix = f"/{tab}" if tab else ""
    page.evaluate("hash => { window.location.hash = hash; }", f"#/instances/{instance_id}{suffix}")


def wait_for_names(page: Page, names: list[str], table: str = "table.sessions") -> None:
    """Wait until the table shows exactly these client names (in any order)."""
    expect(page.locator(f"{table} tbody tr")).to_have_count(len(names))
    assert sorted(shown_column(page, "name", table)) == sorted(names)


def preview_count(page: Page) -> int:
    dialog = page.get_by_role("dialog")
    count = dialog.locator(".preview-count")
    expect(count).to_be_visible()
    text = count.inner_text()
    return 0 if text.startswith("No session") else int(text.split()[0])
