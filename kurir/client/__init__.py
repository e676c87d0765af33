"""kurir's async Python SDK: methods over HTTP or WebSocket, and gap-free live updates."""

from kurir.client.errors import KurirError
from kurir.client.files import UploadInterrupted, UploadState
from kurir.client.sdk import Client, UpdateStream, new_random_id
from kurir.client.sequence import ChannelSequences, PtsSequence, Update, Verdict

__all__ = [
    "ChannelSequences",
    "Client",
    "KurirError",
    "PtsSequence",
    "Update",
    "UpdateStream",
    "UploadInterrupted",
    "UploadState",
    "Verdict",
    "new_random_id",
]
