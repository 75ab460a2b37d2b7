import sodium from "libsodium-wrappers";

/** libsodium is a WebAssembly module that must finish loading before any call. */
export async function loadSodium(): Promise<typeof sodium> {
  await sodium.ready;
  return sodium;
}
