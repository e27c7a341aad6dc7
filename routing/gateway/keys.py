"""API key hashing: keys are random, so one SHA-256 (no salt, no stretching) is the right tool."""

import hashlib

KEY_PREFIX = "rl_"


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
