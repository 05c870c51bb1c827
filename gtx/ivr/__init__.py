"""The IVR engine: drives channels through the steps of remote XML-RPC web services.

Backend-agnostic: it only uses :class:`gtx.channel.Channel`. Start with :class:`IvrEngine`.
"""

from gtx.ivr.app import IvrApp, WebService
from gtx.ivr.engine import IvrEngine
from gtx.ivr.session import SessionOutcome

__all__ = ["IvrApp", "IvrEngine", "SessionOutcome", "WebService"]
