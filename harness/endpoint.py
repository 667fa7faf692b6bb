"""A real HTTP endpoint for `mamori scan`: moto's server mode (ThreadedMotoServer) on a free
local port, reached through AWS_ENDPOINT_URL exactly as the scan would reach AWS.

One WSGI layer in front of moto's application does what a test needs at the server itself:

* counts every request the server receives, by AWS operation ("ec2:DescribeSecurityGroups"),
  recognised from the request as AWS would (X-Amz-Target, the query Action, or the REST path
  and method of the service model), so a test can say that no write ever reached it;
* stands in for what moto's server does not hold, and only that:
  - the root user's credentials: no API sets them, so the credential report's <root_account>
    row and GetAccountSummary's AccountMFAEnabled/AccountAccessKeysPresent/AccountPasswordPresent
    are written into moto's answers (harness.aws.RootCredentials, as the in-process sandbox does);
  - the enabled regions: moto lists every partition's regions; an account lists its 17
    default regions (plus any opted in to), so ec2:DescribeRegions answers those;
  - ssm:DescribeOpsItems (moto has no OpsCenter): no OpsItem is open;
  - budgets:DescribeSubscribersForNotification (moto lacks it): read from moto's budgets backend.

Shared by tests/test_scan_http.py and the demo's closing act.
"""

import base64
import collections
import contextlib
import io
import json
import logging
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import botocore.session
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from harness.aws import DEFAULT_REGIONS, RootCredentials, _budget_subscribers
from mamori.scan.readonly import is_read

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_ROOT_SUMMARY = ("AccountMFAEnabled", "AccountAccessKeysPresent", "AccountPasswordPresent")

StartResponse = Callable[..., Any]


class _RestOperations:
    """Operation names of REST services (account, guardduty) from method and path, as the
    botocore service model declares them."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._routes: dict[str, list[tuple[str, re.Pattern[str], str]]] = {}

    def name(self, service: str, method: str, path: str) -> str:
        if service not in self._routes:
            model = self._session.get_service_model(service)
            routes = []
            for operation in model.operation_names:
                http = model.operation_model(operation).http
                uri = http["requestUri"].split("?")[0]
                path_pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(uri).replace(r"\+", "")).rstrip("/")
                routes.append((http["method"], re.compile(f"^{path_pattern}/?$"), operation))
            self._routes[service] = routes
        for route_method, pattern, operation in self._routes[service]:
            if route_method == method and pattern.match(path.rstrip("/") or "/"):
                return operation
        return f"{method} {path}"


class CountingEndpoint:
    """The WSGI layer: counts requests by operation and answers the stand-ins above."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: collections.Counter[str] = collections.Counter()
        self.root: RootCredentials | None = None
        self.enabled_regions: list[str] = list(DEFAULT_REGIONS)
        self._rest = _RestOperations()
        self._lock = threading.Lock()

    def writes(self) -> dict[str, int]:
        """Requests received that are not reads, by operation."""
        return {action: n for action, n in self.calls.items() if not is_read(action.split(":", 1)[1])}

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation = self._operation(environ, body)
        if service:
            with self._lock:
                self.calls[f"{service}:{operation}"] += 1
        answer = self._stand_in(service, operation, body)
        if answer is not None:
            status, content_type, payload = answer
            start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
            return [payload]
        if service == "iam" and operation in ("GetCredentialReport", "GetAccountSummary") and self.root is not None:
            return self._rewrite(environ, start_response, operation)
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    def _operation(self, environ: dict[str, Any], body: bytes) -> tuple[str, str]:
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None:
            return "", ""
        service = scope.group(1)
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return service, target.rsplit(".", 1)[-1]
        form = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")) | urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return service, form["Action"][0]
        return service, self._rest.name(service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"))

    def _stand_in(self, service: str, operation: str, body: bytes) -> tuple[str, str, bytes] | None:
        if service == "ec2" and operation == "DescribeRegions":
            items = "".join(
                f"<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com</regionEndpoint>"
                f"<optInStatus>{'opt-in-not-required' if r in DEFAULT_REGIONS else 'opted-in'}</optInStatus></item>"
                for r in self.enabled_regions
            )
            xml = (
                '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                f"<requestId>mamori-standin</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>"
            )
            return "200 OK", "text/xml", xml.encode()
        if service == "ssm" and operation == "DescribeOpsItems":
            return "200 OK", "application/x-amz-json-1.1", b'{"OpsItemSummaries": []}'
        if service == "budgets" and operation == "DescribeSubscribersForNotification":
            try:
                answer = _budget_subscribers(json.loads(body or b"{}"))
            except Exception as error:  # the ClientError the backend lookup raises, as Budgets would answer it
                payload = json.dumps({"__type": "NotFoundException", "Message": str(error)}).encode()
                return "400 Bad Request", "application/x-amz-json-1.1", payload
            return "200 OK", "application/x-amz-json-1.1", json.dumps(answer).encode()
        return None

    def _rewrite(self, environ: dict[str, Any], start_response: StartResponse, operation: str) -> Iterable[bytes]:
        """moto's answer with the root user's state written in."""
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        text = b"".join(self.app(environ, keep)).decode("utf-8")
        assert self.root is not None
        if operation == "GetCredentialReport":
            text = re.sub(r"<Content>([^<]*)</Content>", lambda m: f"<Content>{self._with_root_row(m.group(1))}</Content>", text)
        else:
            text = self._with_root_summary(text)
        payload = text.encode("utf-8")
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(payload)))])
        return [payload]

    def _with_root_row(self, encoded: str) -> str:
        assert self.root is not None
        lines = base64.b64decode(encoded).decode("utf-8").splitlines()
        return base64.b64encode(("\n".join([lines[0], self.root.report_row(), *lines[1:]]) + "\n").encode()).decode()

    def _with_root_summary(self, text: str) -> str:
        assert self.root is not None
        values = {
            "AccountMFAEnabled": int(self.root.mfa_active),
            "AccountAccessKeysPresent": int(bool(self.root.access_keys)),
            "AccountPasswordPresent": int(self.root.password),
        }
        for key in _ROOT_SUMMARY:
            text = re.sub(rf"<entry>\s*<key>{key}</key>\s*<value>[^<]*</value>\s*</entry>", "", text)
        entries = "".join(f"<entry><key>{key}</key><value>{value}</value></entry>" for key, value in values.items())
        return text.replace("<SummaryMap>", f"<SummaryMap>{entries}", 1)


class Endpoint(ThreadedMotoServer):
    """moto's ThreadedMotoServer with the counting layer in front of its application."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.counting = CountingEndpoint(DomainDispatcherApplication(create_backend_app))

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        super().start()

    def _server_entry(self) -> None:
        # As ThreadedMotoServer._server_entry, with the counting layer around moto's application.
        self._server = make_server(self._ip_address, self._port, self.counting, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Empty every moto backend (what earlier tests or acts left) and the counts."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=30).read()
        self.counting.reset_counts()
        self.counting.root = None


def endpoint_environment(url: str) -> dict[str, str]:
    """The environment a scan needs to reach the endpoint as it would reach AWS."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }


@contextlib.contextmanager
def running_endpoint() -> Iterator[Endpoint]:
    """A started endpoint, stopped afterwards."""
    endpoint = Endpoint()
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


MINING_REGION = "ap-southeast-1"


def seed_incidents(endpoint: Endpoint, region: str = "us-east-1") -> dict[str, str]:
    """Both incidents, through the endpoint's API (writes the scan must not make): a security
    group with the proxy port 3128 open to the internet beside a harmless one (the open proxy),
    and a root access key without MFA, used from ap-southeast-1 where a miner runs (the
    forgotten root key). Returns the ids, by name."""
    import datetime

    import boto3

    from harness.aws import RootAccessKey

    session = boto3.Session(region_name=region)
    ec2 = session.client("ec2", endpoint_url=endpoint.url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    proxy = ec2.create_security_group(GroupName="squid-proxy", Description="squid", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=proxy,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    web = ec2.create_security_group(GroupName="web", Description="https", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    there = session.client("ec2", region_name=MINING_REGION, endpoint_url=endpoint.url)
    miner = there.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, InstanceType="c5.4xlarge")
    endpoint.counting.root = RootCredentials(
        password=True,
        mfa_active=False,
        access_keys=[
            RootAccessKey(
                last_used=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=3),
                last_used_region=MINING_REGION,
                last_used_service="ec2",
            )
        ],
    )
    return {"proxy": proxy, "web": web, "miner": miner["Instances"][0]["InstanceId"], "vpc": vpc}
