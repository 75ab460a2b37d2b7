"""A short fingerprint of node data, to tell whether two versions are the same."""
import hashlib


def digest(data):
    return hashlib.blake2b(data, digest_size=16).digest()
