"""The gateway side of the privacy policy: apply the names' policies to a parsed request (in place)
and put the originals back into the answer the client gets.

Three points on the request path call :func:`shield`, each with the names known by then: the apex
before resolution (a policy at the top of the tree masks before anything reads the prompt), the
local decision before delegations are followed (a peer resolver never sees what its delegation node
masks), and the served names before the response cache and the engine. A pass policy costs a
dictionary lookup per name; masking twice is harmless (placeholders are not personal data).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from semdns.gateway.parse import ParsedRequest
from semdns.names import Name
from semdns.privacy.detect import detect
from semdns.privacy.policy import Masking, PrivacySpec, apply_policy, restore_json, strictest
from semdns.zone.tree import ZoneTree

_PASS = PrivacySpec()
_STATE_KEY = "semdns_masking"


def policy_of(tree: ZoneTree, name: Name) -> PrivacySpec:
    """The policy of ``name``, or of its nearest ancestor in ``tree`` (a name under a delegation)."""
    node = tree.nodes.get(name)
    if node is not None:
        return node.privacy
    for ancestor in name.ancestors:
        node = tree.nodes.get(ancestor)
        if node is not None:
            return node.privacy
    return _PASS


def shield(tree: ZoneTree, parsed: ParsedRequest, names: Iterable[Name], request: Request) -> None:
    """Apply the strictest policy of ``names`` to ``parsed`` (body, query and context are replaced by
    their masked forms); :class:`~semdns.errors.PersonalDataRefused` under ``refuse``. The request's
    :class:`Masking` is kept on ``request.state`` for :func:`unmask`."""
    specs = [policy_of(tree, n) for n in names]
    if all(s.action == "pass" for s in specs):
        return
    spec = strictest(specs)
    body, masking = apply_policy(spec, parsed.body, parsed.endpoint)
    if masking is None:
        return
    held = _held(request)
    if held is not None:
        # A second pass over an already masked request: keep one table of originals.
        held.originals.update(masking.originals)
        held.counts.update(masking.counts)
        masking = held
    setattr(request.state, _STATE_KEY, masking)
    parsed.body = body
    parsed.query = masking.mask(parsed.query, detect(parsed.query, spec.detectors))
    parsed.context = tuple(masking.mask(c, detect(c, spec.detectors)) for c in parsed.context)
    restore = getattr(request.state, "semdns_restore", True)
    request.state.semdns_restore = restore and spec.restore


def _held(request: Request) -> Masking | None:
    """The request's :class:`Masking`, if :func:`shield` kept one: read from the ASGI scope's state
    dictionary, which ``request.state`` wraps. Most requests have none, and ``getattr(request.state,
    ...)`` would then raise and catch an ``AttributeError`` (its message formatted) on every request."""
    state = request.scope.get("state")
    held = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return held if isinstance(held, Masking) else None


def unmask(response: Response, request: Request) -> Response:
    """The response with ``x-semdns-privacy`` and, for a JSON answer whose policy restores, the
    originals back in place of the placeholders (and ``semdns.privacy``). Streams keep placeholders:
    one may be split across events."""
    masking = _held(request)
    if masking is None:
        return response
    found = ",".join(f"{kind}={n}" for kind, n in masking.summary().items())
    restore = bool(getattr(request.state, "semdns_restore", True))
    streamed = response.media_type == "text/event-stream"
    response.headers["x-semdns-privacy"] = f"masked; {found}" + (
        "; restored" if restore and not streamed else ""
    )
    raw = getattr(response, "body", None)
    if streamed or response.status_code != 200 or not isinstance(raw, bytes):
        return response
    try:
        result = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return response
    if not isinstance(result, dict):
        return response
    if restore:
        result = restore_json(result, masking)
    semdns = result.get("semdns")
    if isinstance(semdns, dict):
        semdns["privacy"] = {"action": "mask", "found": masking.summary(), "restored": restore}
    body = orjson.dumps(result)
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response
