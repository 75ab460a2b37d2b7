/**
 * The zcert text format (czmq's zcert_save, read by pyzmq's zmq.auth.load_certificate):
 * a comment banner, a `metadata` section and a `curve` section holding Z85 keys.
 * This module only turns certificates into text and back; it never touches files.
 */
import { isZ85Key } from "./z85.js";

export interface Certificate {
  publicKey: string;
  secretKey?: string;
  metadata: Record<string, string>;
}

const METADATA_KEY = /^[A-Za-z0-9_-]{1,32}$/;
// Quotes, backslashes and line breaks would let a value escape its line.
const METADATA_VALUE = /^[^"\\\r\n]{0,256}$/;

function stamp(now: Date): string {
  return now.toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
}

export function formatCertificate(cert: Certificate, now = new Date()): string {
  const secret = cert.secretKey !== undefined;
  const lines = [
    `#   ****  Generated on ${stamp(now)} by curvehost  ****`,
    secret ? "#   ZeroMQ CURVE **Secret** Certificate" : "#   ZeroMQ CURVE Public Certificate",
    secret
      ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
      : "#   Exchange securely, or use a secure mechanism to verify the contents\n#   of this file after exchange.",
    "",
    "metadata",
  ];
  for (const [key, value] of Object.entries(cert.metadata)) {
    if (!METADATA_KEY.test(key) || !METADATA_VALUE.test(value))
      throw new RangeError(`metadata ${key} cannot be written to a certificate`);
    lines.push(`    ${key} = "${value}"`);
  }
  lines.push("curve", `    public-key = "${cert.publicKey}"`);
  if (secret) lines.push(`    secret-key = "${cert.secretKey}"`);
  return lines.join("\n") + "\n";
}

/**
 * Parses a certificate; returns an error sentence (without the file name) when the text is not one.
 * The sentence names a line by its number and never quotes it: the line may hold a secret key.
 */
export function parseCertificate(text: string): Certificate | string {
  let section = "";
  const metadata: Record<string, string> = {};
  let publicKey: { value: string; line: number } | undefined;
  let secretKey: { value: string; line: number } | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trimEnd();
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      section = line.trim();
      continue;
    }
    const match = /^\s+([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S*))\s*$/.exec(line);
    if (!match) return `its line ${index + 1} is not "name = value"`;
    const key = match[1]!;
    const value = match[2] ?? match[3] ?? match[4] ?? "";
    if (section === "metadata") metadata[key] = value;
    else if (section === "curve" && key === "public-key") publicKey = { value, line: index + 1 };
    else if (section === "curve" && key === "secret-key") secretKey = { value, line: index + 1 };
  }
  if (publicKey === undefined) return "it has no curve public-key";
  if (!isZ85Key(publicKey.value)) return `its public-key (line ${publicKey.line}) is not a 40-character Z85 key`;
  if (secretKey !== undefined && !isZ85Key(secretKey.value)) return `its secret-key (line ${secretKey.line}) is not a 40-character Z85 key`;
  return secretKey === undefined
    ? { publicKey: publicKey.value, metadata }
    : { publicKey: publicKey.value, secretKey: secretKey.value, metadata };
}
