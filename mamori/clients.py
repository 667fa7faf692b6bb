"""Warm boto3 clients: made once per Lambda container, not once per event.

Creating a client costs botocore tens of milliseconds of CPU (it builds a class for every
client it makes), far more than the decision it serves, and rdklib makes a new ClientFactory,
so new clients, for every event. Clients are thread-safe and hold no per-event state, so a
container keeps one per (service, region, credentials, config) and hands it out again.

`regional_client` is for worker threads (a region scan): boto3 sessions are not thread-safe,
so each worker's client comes from a session of its own. That session behaves like boto3's
default one: the same credentials, profile and event handlers, and the same model loader (a
service model is parsed once per container, not once per region).

The cache belongs to boto3's default session: when that is replaced (a new profile, a test's
fresh mock), the clients made under the old one are dropped. Inlined into SSM documents:
standard library, boto3 and botocore only.
"""

import copy
import hashlib
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.session

_lock = threading.Lock()
_owner: object = None  # the boto3 default session the cached clients were made under
_clients: dict[Hashable, Any] = {}


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


def regional_client(service: str, region: str, source: Origin, config: botocore.config.Config | None = None) -> Any:
    """A client for a worker thread, from a session of its own (made once per container)."""

    def make() -> Any:
        # The default session's handlers are already in the copied emitter: do not add them twice.
        session = botocore.session.Session(
            event_hooks=copy.copy(source.events), include_builtin_handlers=False, profile=source.profile
        )
        session.register_component("data_loader", source.loader)
        if source.credentials is not None:
            session.set_credentials(source.credentials.access_key, source.credentials.secret_key, source.credentials.token)
        return session.create_client(service, region_name=region, config=config)

    key = ("regional", service, region, source.credentials_key, config)
    return _cached(key, source.owner, make)


def clear() -> None:
    """Forget every cached client (the next call makes new ones)."""
    with _lock:
        _clients.clear()
