"""CSV files that a spreadsheet opens without running anything in them.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and
some a tab or a carriage return) as a formula: "CSV injection", from any text
a user wrote (a name, a code, an e-mail address). Where a cell starts depends
on the reader, not on the file: a comma-separated file opened with ``;`` as
the separator (the pt-BR default) splits ``Maria;=1+1;`` into three cells, the
second a formula, quoted or not.

So every CSV the project writes goes through ``spreadsheet_writer``: every
field quoted, and an apostrophe (which spreadsheets show as "this is text")
put before a formula character wherever a cell could start for any reader:
at the start of the text and after each ``,``, ``;`` or line break (CR or LF), spaces and
quotes in between included. Numbers and dates are written as they are.
"""

import csv
import re

FORMULA_CHARACTERS = "=+-@\t\r"
# A cell could start at the start of the text or after a separator; spaces
# and quotes before the formula character do not stop a spreadsheet.
_CELL_START = re.compile(r'(^|[,;\r\n])(?=[\s"]*[=+\-@\t\r])')


def spreadsheet_text(value):
    """``value`` with an apostrophe wherever a cell could start with a
    formula; anything but text as it is."""
    if not isinstance(value, str):
        return value
    if "," in value or ";" in value or "\n" in value or "\r" in value:
        return _CELL_START.sub(r"\1'", value)
    # No separator: only the start of the text can start a cell. The same
    # test as _CELL_START's there, without a regular expression: an export
    # sends millions of cells through here, nearly all of them plain text.
    for char in value:
        if char in "\t\r":  # a formula character that is also a blank
            return "'" + value
        if char != '"' and not char.isspace():
            return "'" + value if char in FORMULA_CHARACTERS else value
    return value


class _SpreadsheetWriter:
    def __init__(self, file, **options):
        self._writer = csv.writer(file, quoting=csv.QUOTE_ALL, **options)

    def writerow(self, row):
        return self._writer.writerow([spreadsheet_text(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def spreadsheet_writer(file, **options) -> _SpreadsheetWriter:
    """A ``csv.writer`` on ``file`` (same ``options``, e.g. ``delimiter``)
    that quotes every field and neutralises formulas (see the module)."""
    return _SpreadsheetWriter(file, **options)
