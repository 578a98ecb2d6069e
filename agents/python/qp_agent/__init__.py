"""Python SDK for QP-Manager agents (same protocol as agents/sdk.ts)."""

from .proof import (
    challenge_signing_input,
    private_key_from_seed,
    proof_signing_input,
    public_key_pem,
    sign_as_agent,
    sign_challenge,
)

__all__ = [
    "challenge_signing_input",
    "private_key_from_seed",
    "proof_signing_input",
    "public_key_pem",
    "sign_as_agent",
    "sign_challenge",
]
