"""twistd plugin: ``twistd -r asyncio -n gtx -c gtx.ini`` runs a gtx node."""

from twisted.application.service import ServiceMaker

gtx = ServiceMaker(
    "gtx",
    "gtx.tap",
    "gtx: IVR, dialer and recorder APIs for Asterisk over XML-RPC",
    "gtx",
)
