/**
 * Text that came over the wire (node ids, kinds, names), made safe for a
 * terminal: a member could otherwise send escape sequences that rewrite another
 * user's screen. Control characters (C0, DEL, C1) and the line and paragraph
 * separators are shown as \u escapes; everything else is printed as it is.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
