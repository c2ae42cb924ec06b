"""A DataTable kept in step with model rows by key: only the cells that changed are written, a row that
leaves hands its place to one that comes, and the rows are reordered only when the model's order differs
from the one on screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from tui.model.dashboard import ColumnSpec, TableRow


class Cell:
    """One line of text in a fixed-width column, rendered as a single segment.

    Cheaper than a rich Text, which DataTable would wrap and justify for every cell of every repaint. It
    has no `__rich_measure__` on purpose: DataTable measures every cell of every new row (three
    terminal-size system calls each), which fixed-width columns do not need.
    """

    __slots__ = ("plain", "right", "style")

    def __init__(self, plain: str, style: Style | None = None, *, right: bool = False) -> None:
        self.plain = plain
        self.style = style
        self.right = right

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        text = self.plain
        if cell_len(text) > width:
            text = set_cell_size(text, max(width - 1, 0)) + "…" if width > 0 else ""
        pad = " " * (width - cell_len(text))
        yield Segment(pad + text if self.right else text + pad, self.style)


class KeyedTable(DataTable[Cell]):
    """Rows are `TableRow`s; `sync(rows)` makes the table show exactly them, in their order."""

    DEFAULT_CSS = """
    KeyedTable {
        height: 1fr;
    }
    """

    def __init__(
        self, columns: Sequence[ColumnSpec], *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.specs = tuple(columns)
        self._style_cache: dict[str, Style] = {}
        self._shown: dict[str, TableRow] = {}  # by model key
        self._slot_of: dict[str, str] = {}  # model key -> DataTable row key
        self._key_of: dict[str, str] = {}  # DataTable row key -> model key
        self._next_slot = 0
        self._written = False  # cells written since the last refresh
        # the first cell object of each slot: reordering finds rows by it
        self._first_cell: dict[str, Cell] = {}

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        """Columns go in on mount, or on the first sync if a model comes first."""
        if self.columns:
            return
        for spec in self.specs:
            label = Text(spec.label, justify="right" if spec.numeric else "left")
            self.add_column(label, key=spec.key, width=spec.width)

    def watch_show_vertical_scrollbar(self, show: bool) -> None:
        # Textual moves a scrollbar only while it is shown: one that appears after the table scrolled
        # would stay at the top (seen when the DNS log jumps to its newest rows as they arrive)
        if show:
            self.vertical_scrollbar.position = self.scroll_y

    # ---- what subclasses may change ---------------------------------------------------------------------

    def row_style(self, row: TableRow) -> Style | None:
        """A style for the whole row (new devices, failed lookups...)."""
        return None

    def cell_style(self, row: TableRow, index: int) -> Style | None:
        return self.row_style(row) if index == 0 else None

    # ---- syncing --------------------------------------------------------------------------------------

    @property
    def cursor_key(self) -> str | None:
        """The model key of the row under the cursor."""
        if not self.row_count:
            return None
        try:
            slot = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return self.key_of(slot.value)

    def _cell(self, row: TableRow, index: int) -> Cell:
        return Cell(row.cells[index], self.cell_style(row, index), right=self.specs[index].numeric)

    def component_style(self, name: str) -> Style:
        """A component class's style, looked up once per sync (the lookup resolves CSS)."""
        style = self._style_cache.get(name)
        if style is None:
            style = self._style_cache[name] = self.get_component_rich_style(name, partial=True)
        return style

    def sync(self, rows: Sequence[TableRow], *, reorder: bool = True) -> None:
        """Show exactly `rows`, in their order, writing only the cells that changed.

        Rows live in slots (the DataTable's row keys): a row that leaves frees its slot for one that comes,
        so the table keeps its size. Adding or removing DataTable rows changes its virtual size, and each
        such change costs a layout pass of the whole screen (and a full repaint) in Textual.

        A cursor the user moved stays on its row wherever the row goes; a cursor on the first row stays
        on the first row, whichever that is.
        """
        self._style_cache.clear()
        self._add_columns()
        cursor_key = self.cursor_key if self.cursor_row > 0 else None
        wanted = {row.key for row in rows}
        free = [self._slot_of.pop(key) for key in list(self._shown) if key not in wanted]
        for slot in free:
            del self._shown[self._key_of.pop(slot)]
        for row in rows:
            old = self._shown.get(row.key)
            if old is None:
                cells = [self._cell(row, i) for i in range(len(self.specs))]
                if free:  # take over a slot: write every cell
                    slot = free.pop()
                    for spec, cell in zip(self.specs, cells, strict=True):
                        self._write_cell(slot, spec.key, cell)
                else:
                    slot = f"row-{self._next_slot}"
                    self._next_slot += 1
                    self.add_row(*cells, key=slot)
                self._slot_of[row.key], self._key_of[slot] = slot, row.key
                self._first_cell[slot] = cells[0]
            elif old != row:
                slot = self._slot_of[row.key]
                restyle = old.flags != row.flags
                for i, spec in enumerate(self.specs):
                    if restyle or old.cells[i] != row.cells[i]:
                        cell = self._cell(row, i)
                        self._write_cell(slot, spec.key, cell)
                        if i == 0:
                            self._first_cell[slot] = cell
            self._shown[row.key] = row
        if self._written:
            self._written = False
            self._update_count += 1  # what update_cell does, once for all the cells written
            self.refresh()
        for slot in free:  # fewer rows than before
            self.remove_row(slot)
            del self._first_cell[slot]
        if reorder or free:
            self._reorder([self._slot_of[row.key] for row in rows])
        if cursor_key is not None and cursor_key in self._shown:
            self._keep_cursor_on(cursor_key)

    def _write_cell(self, slot: str, column: str, cell: Cell) -> None:
        """`update_cell` without its refresh: that costs ~45 us per cell (most of the UI's time while
        replaying flat out, measured); `sync` refreshes once after writing them all. Falls back to
        `update_cell` if DataTable ever stores its cells differently."""
        data = getattr(self, "_data", None)
        row = data.get(RowKey(slot)) if isinstance(data, dict) else None
        if row is None or ColumnKey(column) not in row:
            self.update_cell(slot, column, cell)
            return
        row[ColumnKey(column)] = cell
        self._written = True

    def key_of(self, slot: str | None) -> str | None:
        """The model key of the row in a slot (a DataTable row key)."""
        return self._key_of.get(slot) if slot is not None else None

    def _reorder(self, slots: list[str]) -> None:
        if [row.key.value for row in self.ordered_rows] == slots:
            return
        # DataTable.sort hands the key function cell values only: find each row by its first cell object
        position = {id(self._first_cell[slot]): index for index, slot in enumerate(slots)}
        self.sort(self.specs[0].key, key=lambda cell: position[id(cell)])

    def _keep_cursor_on(self, key: str) -> None:
        try:
            index = self.get_row_index(self._slot_of[key])
        except (KeyError, RowDoesNotExist):
            return
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False, scroll=False)
