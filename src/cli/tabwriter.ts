/**
 * Go's `text/tabwriter`, as ctr uses it (no flags): text is cut into lines
 * and each line into cells, a cell being the text up to and including a tab.
 * A line's last cell (after its last tab) belongs to no column and is written
 * as it is. Consecutive lines that have a tab-terminated cell in column `i`
 * form a column block, aligned to its widest cell plus `padding` (at least
 * `minwidth`); a line with fewer cells ends the block. A line without any tab
 * flushes what came before it, so alignment never crosses it.
 *
 * Padding is spaces, or with `padchar: "\t"` tabs, the cell then rounded up to
 * a multiple of `tabwidth`. Widths count code points (Go counts runes).
 * ctr's outputs depend on every one of these rules, trailing padding included
 * (`ctr namespaces ls` ends every line with the LABELS column's padding).
 */
export interface TabwriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: " " | "\t";
}

/** ctr's usual `tabwriter.NewWriter(os.Stdout, 1, 8, 1, ' ', 0)`. */
export const ctrTabwriter: TabwriterOptions = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };

export function formatTabs(text: string, options: TabwriterOptions = ctrTabwriter): string {
  const out: string[] = [];
  let pending: string[][] = [];
  const lines = text.split("\n");
  // The text after the last newline is a line without one (Go writes it at Flush).
  const trailing = lines.pop()!;
  for (const line of lines) {
    const cells = line.split("\t");
    pending.push(cells);
    if (cells.length === 1) {
      out.push(formatBlock(pending, options, true));
      pending = [];
    }
  }
  if (trailing !== "") pending.push(trailing.split("\t"));
  out.push(formatBlock(pending, options, trailing === ""));
  return out.join("");
}

/** `cells[i]` for i < last are tab-terminated; the last is the line's rest. */
function formatBlock(lines: string[][], o: TabwriterOptions, endsWithNewline: boolean): string {
  let out = "";
  const widths: number[] = [];
  const width = (s: string) => [...s].length;

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      cells.forEach((cell, j) => {
        out += cell;
        if (j < widths.length && j < cells.length - 1) out += padding(width(cell), widths[j]!);
      });
      if (i + 1 < lines.length || endsWithNewline) out += "\n";
    }
  };

  const padding = (textw: number, cellw: number): string => {
    if (o.padchar === "\t") {
      const rounded = Math.ceil(cellw / o.tabwidth) * o.tabwidth;
      return "\t".repeat(Math.ceil((rounded - textw) / o.tabwidth));
    }
    return " ".repeat(cellw - textw);
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let at = line0; at < line1; at++) {
      if (column >= lines[at]!.length - 1) continue;
      // A column block starts here: write the lines before it with the widths so far.
      writeLines(line0, at);
      line0 = at;
      let w = o.minwidth;
      for (; at < line1; at++) {
        const cells = lines[at]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + o.padding);
      }
      widths.push(w);
      format(line0, at);
      widths.pop();
      // As Go: the line that ended the block has no cell in this column; the loop passes it.
      line0 = at;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out;
}
