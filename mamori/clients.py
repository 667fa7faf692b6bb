"""Warm boto3 clients: made once per Lambda container, not once per event.

Creating a client costs botocore tens of milliseconds of CPU (it builds a class for every
client it makes), far more than the decision it serves, and rdklib makes a new ClientFactory,
so new clients, for every event. Clients are thread-safe and hold no per-event state, so a
container keeps one per (service, region, credentials, config) and hands it out again.

`regional_client` is for worker threads (a region scan): boto3 sessions are not thread-safe,
so each worker's client comes from a session of its own. That session behaves like boto3's
default one: the same credentials, profile and event handlers, and the same model loader (a
service model is parsed once per container, not once per region).

A region scan parses every region's answer in one process, under one interpreter lock, so
that CPU is spent one region after another. Two things make it smaller in the workers' clients:
* timestamps: botocore's parser (dateutil, ~0.1 ms a timestamp, three per instance) was two
  thirds of it; ISO 8601 in UTC, what AWS answers, is read with the standard library (~50 times
  faster, the same instants; anything else goes to botocore's own parser);
* `reads`: botocore parses every member the service model names (about 90 values of an EC2
  instance); a worker whose task reads six of them is given a model that names only those;
* XML tags: botocore strips the namespace from each element's tag with a regular expression;
  the workers' EC2 parser remembers each tag's name.

The cache belongs to boto3's default session: when that is replaced (a new profile, a test's
fresh mock), the clients made under the old one are dropped. Inlined into SSM documents:
standard library, boto3 and botocore only.
"""

import copy
import datetime
import hashlib
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.parsers
import botocore.session
import botocore.utils

_lock = threading.Lock()
_owner: object = None  # the boto3 default session the cached clients were made under
_clients: dict[Hashable, Any] = {}


def parse_timestamp(value: Any) -> datetime.datetime:
    """botocore's parse_timestamp, without dateutil for the ISO 8601 timestamps AWS answers
    in UTC ('2024-06-11T08:00:00.000Z'): datetime.fromisoformat is ~50 times faster (2 µs
    against 100 µs here). The same instant (tzinfo datetime.UTC where botocore's is tzutc or tzlocal)."""
    if isinstance(value, str) and len(value) > 19 and value[4] == "-" and value[10] == "T":
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.utcoffset() == datetime.timedelta(0):
                return parsed.replace(tzinfo=datetime.UTC)
    return botocore.utils.parse_timestamp(value)


# XML tag -> its name without the namespace; a service's answers use a few hundred tags.
_TAG_NAMES: dict[str, str] = {}
_MAX_TAG_NAMES = 10_000


class _EC2QueryParser(botocore.parsers.EC2QueryParser):  # type: ignore[misc]
    """botocore's, naming each XML tag once: it strips the namespace from every element's tag
    with a regular expression (about 30 times an instance), a tenth of a scan's parsing."""

    def _node_tag(self, node: Any) -> str:
        name = _TAG_NAMES.get(node.tag)
        if name is None:
            name = super()._node_tag(node)  # type: ignore[misc]
            if len(_TAG_NAMES) < _MAX_TAG_NAMES:
                _TAG_NAMES[node.tag] = name
        return name


class _ResponseParsers(botocore.parsers.ResponseParserFactory):  # type: ignore[misc]
    """The workers' sessions build their response parsers here (a botocore session component):
    timestamps read by parse_timestamp, EC2's answers by _EC2QueryParser."""

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "ec2":
            return _EC2QueryParser(timestamp_parser=parse_timestamp)
        return super().create_parser(protocol_name)


_RESPONSE_PARSERS = _ResponseParsers()
_RESPONSE_PARSERS.set_parser_defaults(timestamp_parser=parse_timestamp)


def _default_session() -> Any:
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION


def _credentials_key(session: Any) -> str:
    """Which credentials a client signs with, without keeping the secret in the key."""
    credentials = session.get_credentials()
    if credentials is None:
        return ""
    frozen = credentials.get_frozen_credentials()
    return hashlib.sha256(f"{frozen.access_key}\n{frozen.secret_key}\n{frozen.token or ''}".encode()).hexdigest()


def _cached(key: Hashable, owner: object, make: Any) -> Any:
    global _owner
    with _lock:
        if _owner is not owner:
            _clients.clear()
            _owner = owner
        made = _clients.get(key)
    if made is None:
        made = make()  # outside the lock: other regions' workers build theirs meanwhile
        with _lock:
            if _owner is owner:
                made = _clients.setdefault(key, made)
    return made


def client(service: str, region: str | None = None, config: botocore.config.Config | None = None) -> Any:
    """boto3.client(service, region_name=region, config=config), made once per container.
    `config` is part of the key by identity: pass module-level Config objects."""
    session = _default_session()
    region = region or session.region_name
    key = ("default", service, region, _credentials_key(session._session), config)
    return _cached(key, session, lambda: session.client(service, region_name=region, config=config))


@dataclass(frozen=True)
class Origin:
    """What a worker's session takes from boto3's default session; read in the calling thread
    (the default session is not thread-safe either)."""

    owner: object
    events: Any
    loader: Any
    profile: str | None
    credentials: Any
    credentials_key: str


def origin() -> Origin:
    session = _default_session()
    core = session._session
    credentials = core.get_credentials()
    return Origin(
        owner=session,
        events=core.get_component("event_emitter"),
        loader=core.get_component("data_loader"),
        profile=core.profile,
        credentials=credentials.get_frozen_credentials() if credentials is not None else None,
        credentials_key=_credentials_key(core),
    )


# Output shapes narrowed to the members a caller reads: ((shape name, (member, ...)), ...).
Reads = tuple[tuple[str, tuple[str, ...]], ...]


class _NarrowedLoader:
    """A session's data loader whose service model keeps, in the named output shapes, only
    the members the caller reads: botocore parses what the model names, nothing else."""

    def __init__(self, loader: Any, service: str, reads: Reads) -> None:
        self._loader, self._service, self._reads = loader, service, reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = self._loader.load_service_model(service_name, type_name, api_version=api_version)
        if service_name != self._service or type_name != "service-2":
            return model
        shapes = dict(model["shapes"])  # the loader's own model is shared: changed copies only
        for shape, members in self._reads:
            if shapes.get(shape, {}).get("type") != "structure" or not set(members) <= set(shapes[shape]["members"]):
                raise ValueError(f"{service_name} model: {shape} has no members {members}")
            shapes[shape] = {**shapes[shape], "members": {name: shapes[shape]["members"][name] for name in members}}
        return {**model, "shapes": shapes}


def regional_client(
    service: str, region: str, source: Origin, config: botocore.config.Config | None = None, reads: Reads = ()
) -> Any:
    """A client for a worker thread, from a session of its own (made once per container).
    `reads` narrows output shapes to the members the caller reads (see Reads): only for
    shapes that no request uses, and only for a client that nothing else shares."""

    def make() -> Any:
        # The default session's handlers are already in the copied emitter: do not add them twice.
        session = botocore.session.Session(
            event_hooks=copy.copy(source.events), include_builtin_handlers=False, profile=source.profile
        )
        session.register_component("data_loader", _NarrowedLoader(source.loader, service, reads) if reads else source.loader)
        session.register_component("response_parser_factory", _RESPONSE_PARSERS)
        if source.credentials is not None:
            session.set_credentials(source.credentials.access_key, source.credentials.secret_key, source.credentials.token)
        return session.create_client(service, region_name=region, config=config)

    key = ("regional", service, region, source.credentials_key, config, reads)
    return _cached(key, source.owner, make)


def clear() -> None:
    """Forget every cached client (the next call makes new ones)."""
    with _lock:
        _clients.clear()
