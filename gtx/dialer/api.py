"""The Dialer API's XML-RPC methods: ``dialer.*``, ``dialer.campaign.*``, ``dialer.preview.*``,
``dialer.dnc.*`` (docs/dialer-api.md).

Each handler validates its arguments (:mod:`gtx.dialer.validate`: a fault 400 names the bad
field), calls the :class:`~gtx.dialer.service.DialerService` it was given, and answers with the
structs of :mod:`gtx.dialer.structs`. The service's :mod:`gtx.errors` (``NotFound``,
``Conflict``) become faults unchanged. Who may call what is checked before a handler runs
(:mod:`gtx.xmlrpc.auth`)::

    register_dialer_api(resource, service, config.dialer, configured_from(config))
"""

from __future__ import annotations

from typing import Final

from gtx.config import DialerSettings, GtxConfig
from gtx.dialer import arguments as a
from gtx.dialer import structs as s
from gtx.dialer import validate as v
from gtx.dialer.service import DialerService
from gtx.xmlrpc.server import CallContext, XMLRPCResource, xmlrpc_method

__all__ = [
    "CampaignMethods",
    "DialerMethods",
    "DncMethods",
    "PreviewMethods",
    "configured_from",
    "register_dialer_api",
]

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000


def configured_from(config: GtxConfig) -> v.Configured:
    """The Asterisk servers and IVR apps of gtx.ini that API arguments may name."""
    return v.Configured(servers=frozenset(config.asterisk), apps=frozenset(config.apps),
                        url_apps=config.allow_url_apps)


def register_dialer_api(
    resource: XMLRPCResource,
    service: DialerService,
    defaults: DialerSettings,
    configured: v.Configured | None = None,
) -> None:
    """Register every Dialer API method on ``resource``."""
    known = configured if configured is not None else v.Configured()
    resource.put_sub_handler("dialer", DialerMethods(service, defaults, known))
    resource.put_sub_handler("dialer.campaign", CampaignMethods(service, defaults, known))
    resource.put_sub_handler("dialer.preview", PreviewMethods(service))
    resource.put_sub_handler("dialer.dnc", DncMethods(service))


class DialerMethods:
    """``dialer.call``, ``dialer.call_status``, ``dialer.hangup``: single calls."""

    def __init__(self, service: DialerService, defaults: DialerSettings,
                 configured: v.Configured) -> None:
        self._service = service
        self._defaults = defaults
        self._configured = configured

    @xmlrpc_method(
        signature=[["struct", "string"], ["struct", "string", "struct"]],
        help="Place one call to a number: call(destination, {channel, caller_id, timeout, "
             "vars, on_answer, callback, amd, asterisk, at | delay}) -> {call_id}. The call "
             "is queued, then dialled (at `at`, or `delay` seconds from now, when given); "
             "follow it with call_status or a callback.",
    )
    async def call(self, ctx: CallContext, destination: object,
                   options: object = None) -> s.Struct:
        request = v.call_request(destination, {} if options is None else options,
                                 self._defaults, self._configured)
        return {"call_id": await self._service.call(request)}

    @xmlrpc_method(
        signature=[["struct", "string"]],
        help="The state of a call: {call_id, state, outcome (once completed), cause, number, "
             "campaign_id, created, dialing, answered, ended, ...}.",
    )
    async def call_status(self, ctx: CallContext, call_id: object) -> s.Struct:
        return s.call_struct(await self._service.call_status(v.call_id(call_id)))

    @xmlrpc_method(
        signature=[["boolean", "string"]],
        help="Hang up a call (or cancel it before it is dialled): its outcome is canceled "
             "unless it was answered. -> true",
    )
    async def hangup(self, ctx: CallContext, call_id: object) -> bool:
        await self._service.hangup(v.call_id(call_id))
        return True


class CampaignMethods:
    """``dialer.campaign.*``: outbound campaigns."""

    def __init__(self, service: DialerService, defaults: DialerSettings,
                 configured: v.Configured) -> None:
        self._service = service
        self._defaults = defaults
        self._configured = configured

    @xmlrpc_method(
        signature=[["struct", "struct"]],
        help="Create a campaign (state draft) from a spec {name, mode, channel, caller_id, "
             "max_concurrent, max_cps, ratio, abandon_target, queue, timeout, on_answer, amd, "
             "retry, max_attempts, windows, timezone, callback, priority, asterisk}. "
             "-> the campaign struct, with its campaign_id.",
    )
    async def create(self, ctx: CallContext, spec: object) -> s.Struct:
        checked = v.campaign_spec(spec, self._defaults, configured=self._configured)
        return s.campaign_struct(await self._service.create_campaign(checked))

    @xmlrpc_method(
        signature=[["struct", "int", "struct"]],
        help="Change some keys of a campaign's spec (nil puts a key back to its default). "
             "-> the campaign struct.",
    )
    async def update(self, ctx: CallContext, campaign_id: object, spec: object) -> s.Struct:
        cid = v.campaign_id(campaign_id)
        current = (await self._service.campaign_status(cid)).campaign.spec
        checked = v.campaign_spec(spec, self._defaults, partial=True, base=current,
                                  configured=self._configured)
        return s.campaign_struct(await self._service.update_campaign(cid, checked))

    @xmlrpc_method(
        signature=[["boolean", "int"]],
        help="Delete a campaign that is not running, with its contacts. -> true",
    )
    async def delete(self, ctx: CallContext, campaign_id: object) -> bool:
        await self._service.delete_campaign(v.campaign_id(campaign_id))
        return True

    @xmlrpc_method(name="list", signature=[["array"]],
                   help="Every campaign: an array of campaign structs.")
    async def list_campaigns(self, ctx: CallContext) -> list[s.Struct]:
        return [s.campaign_struct(c) for c in await self._service.list_campaigns()]

    @xmlrpc_method(
        signature=[["struct", "int"]],
        help="A campaign's state and counters: {campaign_id, name, mode, state, counters "
             "{pending, dialing, done, dnc, answered, busy, ...}, abandon_rate, dial_ratio, "
             "agents_free, updated}.",
    )
    async def status(self, ctx: CallContext, campaign_id: object) -> s.Struct:
        return s.status_struct(await self._service.campaign_status(v.campaign_id(campaign_id)))

    @xmlrpc_method(
        signature=[["struct", "int", "array"]],
        help=f"Add up to {v.MAX_BATCH} contacts ({{number, timezone, vars, priority}} or a "
             "number string) -> {added, duplicate: [index], rejected: [{index, reason}], "
             "dnc: [index]}; indexes point into the array sent.",
    )
    async def add_contacts(self, ctx: CallContext, campaign_id: object,
                           contacts: object) -> s.Struct:
        cid = v.campaign_id(campaign_id)
        batch = v.contacts(contacts)
        report = await self._service.add_contacts(cid, batch.valid)
        return s.add_contacts_struct(report, batch.indexes, batch.rejected)

    @xmlrpc_method(signature=[["struct", "int"]],
                   help="Start dialing a draft campaign. -> the campaign struct.")
    async def start(self, ctx: CallContext, campaign_id: object) -> s.Struct:
        return s.campaign_struct(await self._service.start(v.campaign_id(campaign_id)))

    @xmlrpc_method(signature=[["struct", "int"]],
                   help="Stop starting calls (calls in progress go on). -> the campaign struct.")
    async def pause(self, ctx: CallContext, campaign_id: object) -> s.Struct:
        return s.campaign_struct(await self._service.pause(v.campaign_id(campaign_id)))

    @xmlrpc_method(signature=[["struct", "int"]],
                   help="Go on dialing a paused campaign. -> the campaign struct.")
    async def resume(self, ctx: CallContext, campaign_id: object) -> s.Struct:
        return s.campaign_struct(await self._service.resume(v.campaign_id(campaign_id)))

    @xmlrpc_method(signature=[["struct", "int"]],
                   help="End a campaign for good: calls not yet made are canceled. "
                        "-> the campaign struct.")
    async def stop(self, ctx: CallContext, campaign_id: object) -> s.Struct:
        return s.campaign_struct(await self._service.stop(v.campaign_id(campaign_id)))

    @xmlrpc_method(
        signature=[["struct", "int"], ["struct", "int", "struct"]],
        help=f"A page of a campaign's calls: results(campaign_id, {{after, limit}}) -> "
             f"{{calls: [call struct], next}}; pass next as after for the following page "
             f"(no next: the last page). limit: 1 to {MAX_PAGE}, default {DEFAULT_PAGE}.",
    )
    async def results(self, ctx: CallContext, campaign_id: object,
                      options: object = None) -> s.Struct:
        cid = v.campaign_id(campaign_id)
        given = a.struct({} if options is None else options, "options", {"after", "limit"})
        after = given.get("after")
        cursor = None if after is None else a.text(after, "options.after", longest=200,
                                                   what="the next of the previous page")
        limit = a.integer(given.get("limit", DEFAULT_PAGE), "options.limit", 1, MAX_PAGE,
                          "calls per page")
        calls, following = await self._service.results(cid, cursor, limit)
        page: s.Struct = {"calls": [s.call_struct(call) for call in calls]}
        if following is not None:
            page["next"] = following
        return page


class PreviewMethods:
    """``dialer.preview.*``: preview campaigns, where an agent decides each call."""

    def __init__(self, service: DialerService) -> None:
        self._service = service

    @xmlrpc_method(
        name="next",
        signature=[["struct", "int", "string"]],
        help="Claim the next contact of a preview campaign for an agent: next(campaign_id, "
             "agent) -> the contact {contact_id, number, vars, ...}, or {} when none waits.",
    )
    async def next_contact(self, ctx: CallContext, campaign_id: object,
                           agent: object) -> s.Struct:
        contact = await self._service.preview_next(v.campaign_id(campaign_id), v.agent(agent))
        return {} if contact is None else s.contact_struct(contact)

    @xmlrpc_method(
        signature=[["struct", "int", "int", "string"]],
        help="Dial a previewed contact: dial(campaign_id, contact_id, agent) -> {call_id}.",
    )
    async def dial(self, ctx: CallContext, campaign_id: object, contact_id: object,
                   agent: object) -> s.Struct:
        call_id = await self._service.preview_dial(
            v.campaign_id(campaign_id), v.contact_id(contact_id), v.agent(agent))
        return {"call_id": call_id}

    @xmlrpc_method(
        signature=[["boolean", "int", "int", "string"]],
        help="Give back a previewed contact without dialing it: skip(campaign_id, contact_id, "
             "agent) -> true.",
    )
    async def skip(self, ctx: CallContext, campaign_id: object, contact_id: object,
                   agent: object) -> bool:
        await self._service.preview_skip(
            v.campaign_id(campaign_id), v.contact_id(contact_id), v.agent(agent))
        return True


class DncMethods:
    """``dialer.dnc.*``: the do-not-call list (numbers on it are never dialled)."""

    def __init__(self, service: DialerService) -> None:
        self._service = service

    @xmlrpc_method(signature=[["struct", "array"]],
                   help="Put numbers on the do-not-call list. -> {added: count of new ones}")
    async def add(self, ctx: CallContext, numbers: object) -> s.Struct:
        return {"added": await self._service.dnc_add(v.numbers(numbers))}

    @xmlrpc_method(signature=[["struct", "array"]],
                   help="Take numbers off the do-not-call list. -> {removed: count}")
    async def remove(self, ctx: CallContext, numbers: object) -> s.Struct:
        return {"removed": await self._service.dnc_remove(v.numbers(numbers))}

    @xmlrpc_method(
        signature=[["struct", "array"]],
        help="Which of these numbers are on the do-not-call list: -> {listed: [the numbers, "
             "as sent]}.",
    )
    async def check(self, ctx: CallContext, numbers: object) -> s.Struct:
        normalised = v.numbers(numbers)
        listed = set(await self._service.dnc_check(normalised))
        assert isinstance(numbers, list)  # v.numbers checked it
        return {"listed": [sent for sent, number in zip(numbers, normalised, strict=True)
                           if number in listed]}
