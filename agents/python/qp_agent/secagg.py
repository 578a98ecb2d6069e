"""SecAgg+ on the agent's side, byte-compatible with core/secagg (agent.ts, crypto.ts, shamir.ts, quantize.ts).

The state machine takes the manager's requests (dicts as they arrive as JSON) and returns the
messages to publish. Given the same random bytes it produces the same messages as the TypeScript
agent, byte for byte: test/fixtures/agent-proof-vectors.json holds a whole round computed by the
TypeScript side from seeded randomness, and the pytest suite replays it here.

Stages (Bonawitz et al. 2017; Bell et al. 2020): advertise keys, share keys (Shamir shares of the
self-mask seed and of the masking key, sealed per neighbour), masked input (quantised update plus
self mask plus pairwise masks), unmask (never both shares of one peer).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RandomSource = Callable[[int], bytes]
"""Returns n random bytes. Production uses the OS CSPRNG; tests pass a seeded stream."""

SHAMIR_PRIME = (1 << 521) - 1
"""The Shamir field modulus, 2^521 - 1."""

SECRET_BYTES = 32


class SecAggError(Exception):
    """A protocol violation or a refused request; ``code`` is the TypeScript side's DomainError code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def crypto_random(n: int) -> bytes:
    """n bytes from the OS CSPRNG."""
    return os.urandom(n)


def seeded_random_source(seed: str) -> RandomSource:
    """The deterministic stream of core/secagg/crypto.ts seededRandomSource (AES-256-CTR keyed by SHA-256). Never for production keys."""
    key = hashlib.sha256(f"qp-secagg/seeded-random/{seed}".encode("utf-8")).digest()
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
    return lambda n: encryptor.update(b"\x00" * n)


# ------------------------------------------------------------------ crypto.ts


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def x25519_from_raw(raw: bytes) -> X25519PrivateKey:
    if len(raw) != 32:
        raise SecAggError("INVALID_ARGUMENT", "an X25519 private key is 32 bytes")
    return X25519PrivateKey.from_private_bytes(raw)


def x25519_private_raw(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def x25519_public_wire(key: X25519PrivateKey) -> str:
    """The raw 32-byte public key, base64url without padding (the wire form)."""
    return b64url(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def agree(private_key: X25519PrivateKey, peer_public_wire: str) -> bytes:
    """X25519 agreement with a peer's wire key; refuses the all-zero output of a low-order key."""
    raw = b64url_decode(peer_public_wire)
    if len(raw) != 32:
        raise SecAggError("INVALID_ARGUMENT", "an X25519 public key is 32 bytes (base64url)")
    try:
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError as error:  # cryptography refuses the all-zero output itself
        raise SecAggError("INVALID_ARGUMENT", "X25519 agreement gave a low-order point") from error
    if shared == b"\x00" * 32:
        raise SecAggError("INVALID_ARGUMENT", "X25519 agreement gave a low-order point")
    return shared


def derive_key(secret: bytes, round_id: str, purpose: str) -> bytes:
    """HKDF-SHA256 to 32 bytes, salt ``qp-secagg/<round>``, info ``qp-secagg/<purpose>``."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=f"qp-secagg/{round_id}".encode("utf-8"),
        info=f"qp-secagg/{purpose}".encode("utf-8"),
    ).derive(secret)


def prg_uint32(key: bytes, length: int) -> np.ndarray:
    """``length`` uint32 words of the AES-256-CTR keystream (zero IV), little-endian."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
    stream = encryptor.update(b"\x00" * (4 * length)) + encryptor.finalize()
    return np.frombuffer(stream, dtype="<u4").astype(np.uint32)


def encode_uint32(words: np.ndarray) -> str:
    """Base64 of the words' little-endian bytes (the wire form of masked vectors)."""
    return base64.b64encode(np.ascontiguousarray(words, dtype="<u4").tobytes()).decode("ascii")


def decode_uint32(wire: str) -> np.ndarray:
    data = base64.b64decode(wire)
    if len(data) % 4 != 0:
        raise SecAggError("INVALID_ARGUMENT", f"masked vector has {len(data)} bytes")
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def seal(key: bytes, plaintext: bytes, aad: str, random: RandomSource) -> str:
    """AES-256-GCM; wire form base64(nonce || ciphertext || tag)."""
    nonce = random(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode("utf-8"))).decode("ascii")


def open_box(key: bytes, box: str, aad: str) -> bytes:
    """Opens a seal() envelope; raises when the key, the AAD or any byte differs."""
    data = base64.b64decode(box)
    if len(data) < 12 + 16:
        raise SecAggError("INVALID_ARGUMENT", "share envelope too short")
    try:
        return AESGCM(key).decrypt(data[:12], data[12:], aad.encode("utf-8"))
    except InvalidTag as error:
        raise SecAggError("INVALID_ARGUMENT", "share envelope failed authentication") from error


def commit_seed(seed: bytes, round_id: str, owner: str) -> str:
    """SHA-256 commitment to a self-mask seed, bound to round and owner (hex)."""
    return hashlib.sha256(f"qp-secagg/commit/{round_id}/{owner}/".encode("utf-8") + seed).hexdigest()


def envelope_aad(round_id: str, sender: str, receiver: str) -> str:
    """Binds a share envelope to its round, sender and receiver (JSON as JavaScript writes it)."""
    return json.dumps(["qp-secagg/share", round_id, sender, receiver], separators=(",", ":"), ensure_ascii=False)


def pairwise_key(private_key: X25519PrivateKey, peer_public_wire: str, round_id: str) -> bytes:
    return derive_key(agree(private_key, peer_public_wire), round_id, "pairwise-mask")


# ------------------------------------------------------------------ shamir.ts


def split_secret(secret: bytes, threshold: int, xs: list[int], random: RandomSource) -> list[dict[str, Any]]:
    """Shamir shares {x, y (lower-case hex)} of a secret of at most 64 bytes; any ``threshold`` rebuild it."""
    if len(secret) > 64:
        raise SecAggError("INVALID_ARGUMENT", "Shamir secrets are at most 64 bytes")
    if threshold < 1 or threshold > len(xs):
        raise SecAggError("INVALID_ARGUMENT", f"threshold {threshold} must be in 1..{len(xs)}")
    if len(set(xs)) != len(xs) or any(x < 1 for x in xs):
        raise SecAggError("INVALID_ARGUMENT", "share points must be distinct positive integers")
    # 80 random bytes reduced mod p per coefficient: the bias is below 2^-115.
    coefficients = [int.from_bytes(secret, "big")] + [
        int.from_bytes(random(80), "big") % SHAMIR_PRIME for _ in range(1, threshold)
    ]
    shares = []
    for x in xs:
        y = 0
        for coefficient in reversed(coefficients):
            y = (y * x + coefficient) % SHAMIR_PRIME
        shares.append({"x": x, "y": format(y, "x")})
    return shares


def combine_shares(shares: list[dict[str, Any]], threshold: int, length: int) -> bytes:
    """The secret of ``length`` bytes from the first ``threshold`` shares (Lagrange at 0)."""
    if len(shares) < threshold:
        raise SecAggError("UNAVAILABLE", f"need {threshold} shares, have {len(shares)}")
    used = shares[:threshold]
    xs = [int(s["x"]) for s in used]
    if len(set(xs)) != len(xs):
        raise SecAggError("INVALID_ARGUMENT", "duplicate share points")
    secret = 0
    for i, share in enumerate(used):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * xj % SHAMIR_PRIME
                den = den * (xj - xs[i]) % SHAMIR_PRIME
        y = int(share["y"], 16)
        if y >= SHAMIR_PRIME:
            raise SecAggError("INVALID_ARGUMENT", "share value outside the field")
        secret = (secret + y * num * pow(den, -1, SHAMIR_PRIME)) % SHAMIR_PRIME
    if secret.bit_length() > 8 * length:
        raise SecAggError("INVALID_ARGUMENT", "reconstructed value does not fit the secret: shares are inconsistent")
    return secret.to_bytes(length, "big")


# ------------------------------------------------------------------ quantize.ts


def js_round(value: float) -> int:
    """JavaScript's Math.round: the nearest integer, halves toward +infinity."""
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def quantize(x: np.ndarray, clip_range: float, levels: int, rounding: str, scale: float, random: RandomSource) -> np.ndarray:
    """Clips to [-c, c], scales, maps to integers in [0, levels] (uint32), as quantizeInto does in float64."""
    if not 0 <= scale <= 1:
        raise SecAggError("INVALID_ARGUMENT", "quantisation scale must be in [0, 1]")
    values = np.asarray(x, dtype=np.float32).astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise SecAggError("INVALID_ARGUMENT", "update element is not finite")
    c = float(clip_range)
    step = levels / (2 * c)
    t = (np.clip(values, -c, c) * scale + c) * step
    if rounding == "stochastic":
        u = np.frombuffer(random(4 * len(values)), dtype="<u4").astype(np.float64) / 4294967296.0
        q = np.floor(t + u)
    else:
        floor = np.floor(t)
        q = np.where(t - floor >= 0.5, floor + 1, floor)
    return np.clip(q, 0, levels).astype(np.uint32)


def mod_mask(mod_bits: int) -> int:
    return 0xFFFFFFFF if mod_bits == 32 else (1 << mod_bits) - 1


# ------------------------------------------------------------------ config.ts


@dataclass(frozen=True)
class SecAggSettings:
    """A round's SecAggConfig (core/secagg/config.ts) with its defaults filled in."""

    round_id: str
    dimension: int
    threshold: int | None
    clip_range: float
    quantization_levels: int
    mod_bits: int
    rounding: str
    weighting: str
    max_weight: float

    @property
    def masked_length(self) -> int:
        return self.dimension + (1 if self.weighting == "masked" else 0)

    @staticmethod
    def from_config(config: dict[str, Any]) -> "SecAggSettings":
        settings = SecAggSettings(
            round_id=config["roundId"],
            dimension=int(config["dimension"]),
            threshold=config.get("threshold"),
            clip_range=float(config.get("clipRange", 8)),
            quantization_levels=int(config.get("quantizationLevels", 2**20)),
            mod_bits=int(config.get("modBits", 32)),
            rounding=config.get("rounding", "stochastic"),
            weighting=config.get("weighting", "none"),
            max_weight=float(config.get("maxWeight", 1000)),
        )
        if not isinstance(settings.round_id, str) or not settings.round_id:
            raise SecAggError("INVALID_ARGUMENT", "secagg config: roundId must be a non-empty string")
        if settings.dimension < 1:
            raise SecAggError("INVALID_ARGUMENT", "secagg config: dimension must be a positive integer")
        if not 1 <= settings.mod_bits <= 32:
            raise SecAggError("INVALID_ARGUMENT", "secagg config: modBits must be in 1..32")
        if not 2 <= settings.quantization_levels < 2**settings.mod_bits:
            raise SecAggError("INVALID_ARGUMENT", "secagg config: quantizationLevels must be an integer in [2, 2^modBits)")
        if settings.rounding not in ("stochastic", "nearest"):
            raise SecAggError("INVALID_ARGUMENT", "secagg config: rounding must be 'stochastic' or 'nearest'")
        if settings.weighting not in ("none", "clear", "masked"):
            raise SecAggError("INVALID_ARGUMENT", "secagg config: weighting must be 'none', 'clear' or 'masked'")
        if not (settings.clip_range > 0 and math.isfinite(settings.clip_range)):
            raise SecAggError("INVALID_ARGUMENT", "secagg config: clipRange must be positive")
        if not (settings.max_weight > 0 and math.isfinite(settings.max_weight)):
            raise SecAggError("INVALID_ARGUMENT", "secagg config: maxWeight must be positive")
        return settings


# ------------------------------------------------------------------ agent.ts


class SecAggAgent:
    """One agent's side of one SecAgg+ round (core/secagg/agent.ts); raises SecAggError and aborts on any violation."""

    def __init__(self, config: dict[str, Any], agent_id: str, weight: float | None = None, random: RandomSource | None = None) -> None:
        if not agent_id:
            raise SecAggError("INVALID_ARGUMENT", "agentId is required")
        self.settings = SecAggSettings.from_config(config)
        self.agent_id = agent_id
        self.weight = weight
        self.random = random or crypto_random
        self.stage = "new"
        self._encryption: X25519PrivateKey | None = None
        self._masking: X25519PrivateKey | None = None
        self._neighbours: dict[str, dict[str, Any]] = {}
        self._threshold = 0
        self._self_mask_seed = b""
        self._held: dict[str, dict[str, Any]] = {}
        self._revealed: dict[str, str] = {}

    def advertise_keys(self) -> dict[str, Any]:
        """Stage 0: fresh X25519 key pairs (envelopes, masks); returns their public halves."""
        self._expect_stage("new", "advertiseKeys")
        self._encryption = x25519_from_raw(self.random(32))
        self._masking = x25519_from_raw(self.random(32))
        self.stage = "keysAdvertised"
        return {
            "type": "advertiseKeys",
            "roundId": self.settings.round_id,
            "from": self.agent_id,
            "encryptionKey": x25519_public_wire(self._encryption),
            "maskingKey": x25519_public_wire(self._masking),
        }

    def share_keys(self, request: dict[str, Any]) -> dict[str, Any]:
        """Stage 1: Shamir-shares the self-mask seed and the masking key among the neighbours, one sealed envelope each."""
        self._expect_stage("keysAdvertised", "shareKeys")
        self._expect_addressed(request)
        neighbours = list(request["neighbours"])
        threshold = request["threshold"]
        ids = [n["agentId"] for n in neighbours]
        # The server chooses the graph; the agent still refuses shapes that break the guarantees.
        if self.agent_id in ids:
            self._fail("INVALID_ARGUMENT", "neighbour list contains this agent")
        if len(set(ids)) != len(ids):
            self._fail("INVALID_ARGUMENT", "duplicate neighbours")
        if self.settings.threshold is not None and threshold != self.settings.threshold:
            self._fail("INVALID_ARGUMENT", f"server threshold {threshold} differs from the configured {self.settings.threshold}")
        if not isinstance(threshold, int) or threshold < 1 or threshold > len(ids) or 2 * threshold <= len(ids):
            self._fail("INVALID_ARGUMENT", f"threshold {threshold} must satisfy {len(ids)}/2 < t <= {len(ids)}")
        assert self._encryption is not None and self._masking is not None
        own = [x25519_public_wire(self._encryption), x25519_public_wire(self._masking)]
        keys = [k for n in neighbours for k in (n["encryptionKey"], n["maskingKey"])] + own
        if len(set(keys)) != len(keys):
            self._fail("INVALID_ARGUMENT", "public keys are not all distinct")

        self._threshold = threshold
        self._neighbours = {n["agentId"]: n for n in neighbours}
        self._self_mask_seed = self.random(SECRET_BYTES)
        ordered = sorted(ids, key=_js_sort_key)
        xs = list(range(1, len(ordered) + 1))
        self_mask_shares = split_secret(self._self_mask_seed, threshold, xs, self.random)
        secret_key_shares = split_secret(x25519_private_raw(self._masking), threshold, xs, self.random)
        envelopes = []
        for i, to in enumerate(ordered):
            plaintext = _js_json(
                {"from": self.agent_id, "to": to, "selfMask": self_mask_shares[i], "secretKey": secret_key_shares[i]}
            ).encode("utf-8")
            box = seal(self._envelope_key(to), plaintext, envelope_aad(self.settings.round_id, self.agent_id, to), self.random)
            envelopes.append({"to": to, "box": box})
        self.stage = "sharesSent"
        return {
            "type": "encryptedShares",
            "roundId": self.settings.round_id,
            "from": self.agent_id,
            "selfMaskCommitment": commit_seed(self._self_mask_seed, self.settings.round_id, self.agent_id),
            "envelopes": envelopes,
        }

    def masked_input(self, request: dict[str, Any], update: np.ndarray, weight: float | None = None) -> dict[str, Any]:
        """Stage 2: opens the neighbours' envelopes and returns the masked, quantised update."""
        self._expect_stage("sharesSent", "maskedInput")
        self._expect_addressed(request)
        settings = self.settings
        x = np.asarray(update, dtype=np.float32).reshape(-1)
        if x.size != settings.dimension:
            self._fail("INVALID_ARGUMENT", f"update has {x.size} elements, expected {settings.dimension}")
        for envelope in request["envelopes"]:
            sender = envelope["from"]
            if sender not in self._neighbours:
                self._fail("INVALID_ARGUMENT", f"envelope from non-neighbour {sender}")
            if sender in self._held:
                self._fail("INVALID_ARGUMENT", f"second envelope from {sender}")
            plain = json.loads(
                open_box(self._envelope_key(sender), envelope["box"], envelope_aad(settings.round_id, sender, self.agent_id)).decode("utf-8")
            )
            if plain.get("from") != sender or plain.get("to") != self.agent_id:
                self._fail("INVALID_ARGUMENT", f"envelope from {sender} is misaddressed")
            self._held[sender] = {"selfMask": plain["selfMask"], "secretKey": plain["secretKey"]}
        # Pair only with neighbours that completed stage 1: they hold our shares and mask against us.
        partners = list(self._held)
        if len(partners) < self._threshold:
            self._fail("UNAVAILABLE", f"only {len(partners)} neighbours shared keys; {self._threshold} needed")

        length = settings.masked_length
        mask = np.uint64(mod_mask(settings.mod_bits))
        scale, quantized_weight = self._weight_scale(self.weight if weight is None else weight)
        y = np.zeros(length, dtype=np.uint64)
        y[: settings.dimension] = quantize(x, settings.clip_range, settings.quantization_levels, settings.rounding, scale, self.random)
        if settings.weighting == "masked":
            y[settings.dimension] = quantized_weight
        y &= mask
        y = (y + prg_uint32(derive_key(self._self_mask_seed, settings.round_id, "self-mask"), length)) & mask
        assert self._masking is not None
        for peer in partners:
            pairwise = prg_uint32(pairwise_key(self._masking, self._neighbours[peer]["maskingKey"], settings.round_id), length).astype(np.uint64)
            # The smaller id adds, the larger subtracts: the pair cancels in the sum.
            if _js_less(self.agent_id, peer):
                y = (y + pairwise) & mask
            else:
                y = (y + (np.uint64(1 << 32) - pairwise)) & mask
        self.stage = "maskedInputSent"
        message: dict[str, Any] = {
            "type": "maskedInput",
            "roundId": settings.round_id,
            "from": self.agent_id,
            "vector": encode_uint32(y.astype(np.uint32)),
        }
        if settings.weighting == "clear":
            message["weight"] = quantized_weight / settings.quantization_levels * settings.max_weight
        return message

    def unmask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Stage 3: reveals self-mask shares of survivors and secret-key shares of dropouts, never both for one peer."""
        if self.stage not in ("maskedInputSent", "unmasking"):
            self._expect_stage("maskedInputSent", "unmask")
        self._expect_addressed(request)
        survivors: list[str] = list(request["survivors"])
        dropped: list[str] = list(request["dropped"])
        both = [i for i in survivors if i in dropped]
        if both:
            self._refuse(both[0], "listed as both survivor and dropout")
        if self.agent_id in dropped:
            self._fail("INVALID_ARGUMENT", "this agent is alive but listed as dropped")
        for peer in survivors + dropped:
            if peer not in self._held:
                self._fail("INVALID_ARGUMENT", f"no shares held for {peer}")
        if len(set(survivors)) != len(survivors) or len(set(dropped)) != len(dropped):
            self._fail("INVALID_ARGUMENT", "duplicate ids in the unmask request")
        if len(survivors) + 1 < self._threshold:
            self._fail("UNAVAILABLE", f"only {len(survivors)} surviving neighbours; {self._threshold - 1} needed")
        for peer in survivors:
            if self._revealed.get(peer) == "secretKey":
                self._refuse(peer, "its secret-key share was already revealed")
        for peer in dropped:
            if self._revealed.get(peer) == "selfMask":
                self._refuse(peer, "its self-mask share was already revealed")
        for peer in survivors:
            self._revealed[peer] = "selfMask"
        for peer in dropped:
            self._revealed[peer] = "secretKey"
        self.stage = "unmasking"
        return {
            "type": "unmaskShares",
            "roundId": self.settings.round_id,
            "from": self.agent_id,
            "selfMaskShares": [{"owner": peer, "share": self._held[peer]["selfMask"]} for peer in survivors],
            "secretKeyShares": [{"owner": peer, "share": self._held[peer]["secretKey"]} for peer in dropped],
        }

    def _weight_scale(self, weight: float | None) -> tuple[float, int]:
        settings = self.settings
        if settings.weighting == "none":
            return 1.0, 0
        if weight is None or not math.isfinite(weight) or weight < 0:
            self._fail("INVALID_ARGUMENT", f"weighting '{settings.weighting}' needs a non-negative weight")
        assert weight is not None
        if weight > settings.max_weight:
            self._fail("INVALID_ARGUMENT", f"weight {weight} exceeds maxWeight {settings.max_weight}")
        # The weight ratio is itself quantised so that scaled vector and weight agree exactly.
        quantized = js_round(weight / settings.max_weight * settings.quantization_levels)
        return quantized / settings.quantization_levels, quantized

    def _envelope_key(self, peer: str) -> bytes:
        keys = self._neighbours.get(peer)
        if keys is None:
            self._fail("INVALID_ARGUMENT", f"{peer} is not a neighbour")
        assert keys is not None and self._encryption is not None
        return derive_key(agree(self._encryption, keys["encryptionKey"]), self.settings.round_id, "share-envelope")

    def _expect_stage(self, stage: str, action: str) -> None:
        if self.stage != stage:
            raise SecAggError("CONFLICT", f"agent {self.agent_id}: {action} in stage '{self.stage}', expected '{stage}'")

    def _expect_addressed(self, request: dict[str, Any]) -> None:
        if request.get("roundId") != self.settings.round_id or request.get("to") != self.agent_id:
            self._fail(
                "INVALID_ARGUMENT",
                f"request for {request.get('to')} in round {request.get('roundId')} reached {self.agent_id} in {self.settings.round_id}",
            )

    def _fail(self, code: str, message: str) -> None:
        """Honest agents abort the round on any protocol violation."""
        self.stage = "aborted"
        raise SecAggError(code, f"agent {self.agent_id}: {message}")

    def _refuse(self, peer: str, why: str) -> None:
        self.stage = "aborted"
        raise SecAggError("FORBIDDEN", f"agent {self.agent_id} refuses to reveal both the self-mask and the secret-key share of {peer}: {why}")


def _js_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _js_sort_key(text: str) -> bytes:
    """JavaScript compares strings by UTF-16 code units."""
    return text.encode("utf-16-be")


def _js_less(a: str, b: str) -> bool:
    return _js_sort_key(a) < _js_sort_key(b)
