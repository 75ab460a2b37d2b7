/**
 * A refusal the user can act on: one sentence that names the problem and, where
 * there is one, the fix. The CLI prints `message` as it is, never a stack trace.
 */
export class KeyStoreError extends Error {
  override readonly name = "KeyStoreError";
}
