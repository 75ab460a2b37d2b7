import path from "node:path";

/** What the commands print for people. Never a secret key. */

export function say(...lines: string[]): void {
  process.stdout.write(lines.join("\n") + "\n");
}

export function warn(line: string): void {
  process.stderr.write(`warning: ${line}\n`);
}

/** A plain text table, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** A path relative to where the user stands, when it lies below it. */
export function shortPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === "" ? "." : rel.startsWith("..") ? file : rel;
}
