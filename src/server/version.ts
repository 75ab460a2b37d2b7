/** The server's version, as `hello` reports it: package.json's, read once. */
import { readFileSync } from "node:fs";

const manifest = new URL("../../../package.json", import.meta.url);

export const SERVER_VERSION: string = (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
