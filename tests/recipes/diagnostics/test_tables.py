"""recipes.diagnostics.tables: one plain-text table format for terminals and logs."""

from recipes.diagnostics import format_table


def test_format_table_aligns_numbers_right_and_text_left():
    table = format_table(
        ["name", "value"], [["a", 0.123456], ["longer", None], ["b", 12]]
    )
    assert table.splitlines() == [
        "name    value",
        "------  ------",
        "a       0.1235",
        "longer       -",
        "b           12",
    ]
