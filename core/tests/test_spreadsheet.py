"""CSV cells never start a formula, whichever separator a spreadsheet splits
on."""

import csv
import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.spreadsheet import FORMULA_CHARACTERS, spreadsheet_text, spreadsheet_writer

HOSTILE = [
    "Maria;=1+1;",
    "Maria,=1+1,",
    '=HYPERLINK("http://x")',
    "+55 11 99999-0000",
    "-1-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "Ana; -2",
    'Ana;"=1+1"',
    "Ana\n=1+1",
    "a;;=b",
]


def cells_a_spreadsheet_could_see(text: str):
    """Every cell of ``text`` as a reader splitting on ``,`` or ``;`` sees
    it: by the CSV rules, and by a plain split (a reader that ignores the
    quotes), with the quotes and spaces a reader drops in front."""
    for delimiter in ",;":
        try:
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
                yield from row
        except csv.Error:
            pass  # not CSV by these rules: the plain split below still reads it
        for line in re.split(r"[\r\n]", text):
            for piece in line.split(delimiter):
                yield piece.lstrip(' "')


def write(rows, **options) -> str:
    buffer = io.StringIO()
    spreadsheet_writer(buffer, **options).writerows(rows)
    return buffer.getvalue()


def starts_a_formula(cell: str) -> bool:
    # A cell of blanks alone (a line break read as a cell) runs nothing.
    return cell[:1] in tuple(FORMULA_CHARACTERS) and cell.strip() != ""


def test_every_field_is_quoted():
    assert write([[1, "NF-1", "Ana"]]) == '"1","NF-1","Ana"\r\n'
    assert write([[1, "Ana"]], delimiter=";") == '"1";"Ana"\r\n'


def test_a_hostile_value_starts_no_cell_for_any_separator():
    text = write([[1, value, "ok"] for value in HOSTILE])
    cells = list(cells_a_spreadsheet_could_see(text))
    assert [cell for cell in cells if starts_a_formula(cell)] == []


def test_the_value_reads_back_with_only_apostrophes_added():
    assert spreadsheet_text("Maria;=1+1;") == "Maria;'=1+1;"
    assert spreadsheet_text("-1-1") == "'-1-1"
    assert spreadsheet_text('Ana;"=1"') == 'Ana;\'"=1"'
    assert spreadsheet_text("Ana-Maria, Souza; 3+4") == "Ana-Maria, Souza; 3+4"
    for value in HOSTILE:
        (row,) = csv.reader(io.StringIO(write([[value]]), newline=""))
        assert row[0].replace("'", "") == value.replace("'", "")


def test_numbers_and_dates_are_written_as_they_are():
    from datetime import date
    from decimal import Decimal

    assert write([[Decimal("-1.50"), -2, date(2026, 3, 1)]]) == '"-1.50","-2","2026-03-01"\r\n'


@given(st.lists(st.text(alphabet=st.sampled_from(list("ab =+-@\t\r\n;,\"'")), max_size=12), max_size=4))
def test_no_text_starts_a_cell_with_a_formula(values):
    text = write([values])
    assert not any(starts_a_formula(cell) for cell in cells_a_spreadsheet_could_see(text))


def _by_the_rule(value: str) -> str:
    from core.spreadsheet import _CELL_START

    return _CELL_START.sub(r"\1'", value)


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list(' "\t\r\n,;=+-@a1\u00a0\u2003')) | st.characters(), max_size=12))
def test_the_fast_path_neutralises_exactly_what_the_rule_does(value):
    assert spreadsheet_text(value) == _by_the_rule(value)
