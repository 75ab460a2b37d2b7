"""Keys as the project writes them (Z85 text, 40 characters for 32 bytes) and the join proof.

Z85 is decoded here rather than with pyzmq's helper so that a bad key in an invite is a
clear ValueError instead of whatever a lookup table or struct.pack happens to raise.
"""
import os
import secrets

from nacl.public import Box, PrivateKey, PublicKey

Z85_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_VALUES = {character: value for value, character in enumerate(Z85_ALPHABET)}

KEY_BYTES = 32
KEY_TEXT = 40
NONCE_BYTES = 24
ROUTING_ID_BYTES = 16
JOIN_CONTEXT = b"curvehost/join"


def decode_key(text):
    """The 32 bytes of a Z85 key; ValueError if `text` is not one."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str) or len(text) != KEY_TEXT:
        raise ValueError("a key is %d characters of Z85" % KEY_TEXT)
    out = bytearray()
    for start in range(0, KEY_TEXT, 5):
        value = 0
        for character in text[start:start + 5]:
            digit = _Z85_VALUES.get(character)
            if digit is None:
                raise ValueError("%r is not a Z85 character" % character)
            value = value * 85 + digit
        if value >= 1 << 32:
            raise ValueError("a key is not valid Z85")
        out += value.to_bytes(4, "big")
    return bytes(out)


def encode_key(raw):
    """The Z85 text of 32 bytes."""
    if len(raw) != KEY_BYTES:
        raise ValueError("a key is %d bytes" % KEY_BYTES)
    text = []
    for start in range(0, KEY_BYTES, 4):
        value = int.from_bytes(raw[start:start + 4], "big")
        chunk = []
        for _ in range(5):
            value, digit = divmod(value, 85)
            chunk.append(Z85_ALPHABET[digit])
        text.extend(reversed(chunk))
    return "".join(text)


def is_key(text):
    try:
        decode_key(text)
    except ValueError:
        return False
    return True


def public_key_of(secret_key):
    """The Z85 public key that belongs to a Z85 secret key (Curve25519, as CURVE uses it)."""
    return encode_key(bytes(PrivateKey(decode_key(secret_key)).public_key))


def new_routing_id():
    """R (PROTOCOL.md §1): 16 random bytes whose first is not 0 (libzmq reserves those)."""
    return bytes([1 + secrets.randbelow(255)]) + secrets.token_bytes(ROUTING_ID_BYTES - 1)


def join_proof(routing_id, server_key, secret_key):
    """`nonce` and `proof` for a join (PROTOCOL.md §3), both raw bytes.

    proof = crypto_box_easy("curvehost/join" || R, nonce, server public key, client secret
    key): only the holder of the secret key can make it, and its plaintext ties the key to
    the routing id the join comes from, so no one else can use this R.
    """
    nonce = os.urandom(NONCE_BYTES)
    box = Box(PrivateKey(decode_key(secret_key)), PublicKey(decode_key(server_key)))
    return nonce, box.encrypt(JOIN_CONTEXT + routing_id, nonce).ciphertext
