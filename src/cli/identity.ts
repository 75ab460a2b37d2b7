import { readIdentity, type Invite, type KeyPair } from "../keys/index.js";
import { UsageError } from "./errors.js";

/** The collaborator's keypair: from --identity, or the secret the invite carries. */
export async function clientKeys(invite: Invite, identityFile: string | undefined): Promise<KeyPair> {
  if (identityFile) return readIdentity(identityFile);
  if (invite.client.secretKey === undefined)
    throw new UsageError("This invite holds no secret key; give yours with --identity NAME.key_secret.");
  return { publicKey: invite.client.publicKey, secretKey: invite.client.secretKey };
}
