"""Where a spawned agent's pane goes so that no pane gets smaller than the minimum.

Splitting the same pane again and again halves it each time (49, 24, 11...
columns) until tmux refuses. Before a split, spawn asks :func:`choose`:

1. ``split``: the plain split leaves both halves at the minimum or more;
2. ``layout``: else, split the window's largest pane and lay the window out
   again (``select-layout``) when, by tmux's own arithmetic for that layout,
   every pane keeps the minimum;
3. ``window``: else, a new window in the same session.

The arithmetic follows tmux's layout-set.c (tmux 3.2 to 3.5): a border is
one cell between panes, and panes of a row or column share what is left
evenly, the last one taking the remainder. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What a window's panes are read with (see :func:`read_window`), one pane a line.
PANE_FORMAT = "#{pane_id} #{pane_active} #{pane_width} #{pane_height} #{window_id} #{window_width} #{window_height} #{main-pane-width} #{main-pane-height}"


@dataclass(frozen=True)
class PaneSize:
    pane_id: str
    active: bool
    width: int
    height: int


@dataclass(frozen=True)
class Window:
    """One window's size and panes, as tmux reports them."""

    window_id: str
    width: int
    height: int
    panes: tuple[PaneSize, ...]
    #: The window's ``main-pane-width`` and ``main-pane-height`` options (cells, or "60%").
    main_width: str = "80"
    main_height: str = "24"

    def pane(self, pane_id: str | None) -> PaneSize:
        """The pane ``pane_id``, else the active one (what ``split-window -t SESSION:`` splits)."""
        for pane in self.panes:
            if pane.pane_id == pane_id:
                return pane
        return next((pane for pane in self.panes if pane.active), self.panes[0])

    def largest(self) -> PaneSize:
        """The pane with the most cells (the first of equals)."""
        return max(self.panes, key=lambda pane: pane.width * pane.height)


def parse_window(lines: list[str]) -> Window | None:
    """The :class:`Window` of ``list-panes -F PANE_FORMAT`` output (None when it cannot be read).

    >>> w = parse_window(["%1 0 100 50 @1 200 50 80 24", "%2 1 99 50 @1 200 50 80 24"])
    >>> w.window_id, w.width, len(w.panes), w.pane(None).pane_id, w.largest().pane_id
    ('@1', 200, 2, '%2', '%1')
    """
    panes: list[PaneSize] = []
    head: list[str] = []
    for line in lines:
        words = line.split()
        if len(words) != 9:
            return None
        try:
            panes.append(PaneSize(words[0], words[1] == "1", int(words[2]), int(words[3])))
            int(words[5]), int(words[6])
        except ValueError:
            return None
        head = words
    if not panes:
        return None
    return Window(head[4], int(head[5]), int(head[6]), tuple(panes), head[7], head[8])


def _cells(option: str, whole: int) -> int:
    """A main pane's size option (``80`` or ``60%``) in cells of ``whole``.

    >>> _cells("80", 200), _cells("60%", 200), _cells("junk", 200)
    (80, 120, 80)
    """
    text = option.strip()
    try:
        if text.endswith("%"):
            return whole * int(text[:-1]) // 100
        return int(text)
    except ValueError:
        return 80


def _share(total: int, count: int) -> int:
    """The smallest of ``count`` panes side by side in ``total`` cells (one border between each)."""
    return (total - (count - 1)) // count


def smallest_after(layout: str, count: int, window: Window) -> tuple[int, int]:
    """(columns, rows) of the narrowest and of the shortest pane once ``count`` panes have ``layout``.

    >>> w = Window("@1", 200, 50, ())
    >>> smallest_after("tiled", 10, w), smallest_after("even-horizontal", 5, w), smallest_after("main-vertical", 6, w)
    ((66, 11), (39, 50), (80, 9))
    """
    width, height = window.width, window.height
    if count <= 1:
        return width, height
    if layout == "tiled":
        rows = columns = 1
        while rows * columns < count:
            rows += 1
            if rows * columns < count:
                columns += 1
        return _share(width, columns), _share(height, rows)
    if layout == "even-horizontal":
        return _share(width, count), height
    if layout == "even-vertical":
        return width, _share(height, count)
    if layout == "main-vertical":
        main = _cells(window.main_width, width)
        other = width - main - 1
        return min(main, other), _share(height, count - 1)
    if layout == "main-horizontal":
        main = _cells(window.main_height, height)
        other = height - main - 1
        return _share(width, count - 1), min(main, other)
    return 0, 0


@dataclass(frozen=True)
class Choice:
    """How the new pane is made: ``how`` is "split", "layout" or "window"; ``pane`` the one to split."""

    how: str
    pane: str = ""


def choose(window: Window, origin: str | None, vertical: bool, layout: str, minimum: tuple[int, int]) -> Choice:
    """Split the origin, split and lay out again, or open a window (see the module's docstring).

    >>> w = parse_window(["%1 1 200 50 @1 200 50 80 24"])
    >>> choose(w, "%1", False, "tiled", (40, 8))
    Choice(how='split', pane='%1')
    >>> w = parse_window(["%1 1 49 50 @1 200 50 80 24", "%2 0 150 50 @1 200 50 80 24"])
    >>> choose(w, "%1", False, "tiled", (40, 8)), choose(w, "%1", False, "none", (40, 8))
    (Choice(how='layout', pane='%2'), Choice(how='window', pane=''))
    """
    min_width, min_height = minimum
    pane = window.pane(origin)
    if vertical:
        fits = pane.width >= min_width and (pane.height - 1) // 2 >= min_height
    else:
        fits = (pane.width - 1) // 2 >= min_width and pane.height >= min_height
    if fits:
        return Choice("split", pane.pane_id)
    if layout != "none":
        width, height = smallest_after(layout, len(window.panes) + 1, window)
        if width >= min_width and height >= min_height:
            return Choice("layout", window.largest().pane_id)
    return Choice("window")
