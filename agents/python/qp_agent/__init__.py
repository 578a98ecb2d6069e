"""Python SDK for QP-Manager agents (same protocol as agents/sdk.ts)."""

from .agent import QpAgent, swarm_topic
from .errors import ApiError, BrokerError, BrokerUnavailableError, HandshakeError, ManagerUnavailableError, QpAgentError
from .proof import (
    challenge_signing_input,
    private_key_from_seed,
    proof_signing_input,
    public_key_pem,
    sign_as_agent,
    sign_challenge,
)
from .pulsar import Message, PulsarWebSocket, topic_path
from .pulsar_native import PulsarNative, native_transport_unavailable
from .transport import Subscription, Transport, open_transport
from .rounds import RoundTask, Update, bytes_to_params, params_to_bytes
from .secagg import SecAggAgent, SecAggError
from .allocation import TaskBid, allocation_agent, profile_bid
from .ballot import ballot_signing_input, canonical_choice, sign_ballot
from .tasks import TaskContext, TaskDeclined, bid_message, outcome_message, own_bid
from .session import load_session, save_session, session_private_key

__all__ = [
    "ApiError",
    "BrokerError",
    "BrokerUnavailableError",
    "HandshakeError",
    "ManagerUnavailableError",
    "Message",
    "PulsarNative",
    "PulsarWebSocket",
    "Subscription",
    "Transport",
    "native_transport_unavailable",
    "open_transport",
    "QpAgent",
    "QpAgentError",
    "RoundTask",
    "SecAggAgent",
    "SecAggError",
    "Update",
    "bytes_to_params",
    "params_to_bytes",
    "challenge_signing_input",
    "private_key_from_seed",
    "proof_signing_input",
    "public_key_pem",
    "sign_as_agent",
    "sign_challenge",
    "swarm_topic",
    "topic_path",
    "TaskBid",
    "TaskContext",
    "TaskDeclined",
    "allocation_agent",
    "ballot_signing_input",
    "bid_message",
    "canonical_choice",
    "outcome_message",
    "own_bid",
    "profile_bid",
    "sign_ballot",
    "load_session",
    "save_session",
    "session_private_key",
]
