"""gtx — an open telephony application framework for Asterisk."""

__version__ = "0.1.0"
