"""Plain-text tables for terminals and log files: one format for every table printed."""


def format_table(columns, rows):
    """Formats rows as a plain-text table: floats to 4 significant digits, `None` as -.

    Example:

    >>> print(format_table(["size", "accuracy"], [[32, 0.98123], [256, None]]))
    size  accuracy
    ----  --------
      32    0.9812
     256         -
    """

    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(c)), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(columns, widths)),
        "  ".join("-" * w for w in widths),
    ]
    for row, raw in zip(cells, rows):
        lines.append(
            "  ".join(
                c.ljust(w) if isinstance(v, str) else c.rjust(w)
                for c, v, w in zip(row, raw, widths)
            )
        )
    return "\n".join(line.rstrip() for line in lines)
