"""Live routing to a storage account, read with azure-storage-blob the way a SIEM's
blob input reads (spec live-routing.md §3.4, azure-monitor.md §6).

The monitoring app (auditgraph-monitoring, client credentials through azure-identity's
ClientSecretCredential for https://management.azure.com/.default) saves an Intune
diagnostic setting through the ARM endpoint, sending AuditLogs to the storage account
devstoreaccount1, which auditgraph knows as an Azurite (--storage-account). Then the
writer app posts audit events through Graph, the admin API flushes the router, and
the reader lists the append blobs of insights-logs-auditlogs, compares each blob's
size with the offset it saved, downloads only the new bytes (download_blob(offset,
length)), splits them into JSON lines and keeps the offsets for the next poll. Every
event must arrive exactly once, as a resource-log record.

.ci/run starts an Azurite on 127.0.0.1:15010 and auditgraph with
`--storage-account devstoreaccount1=<its connection string> --routing-window 1s`,
and names Azurite in AG_TEST_AZURITE_CONNECTION_STRING (see test_identity.py for the
other variables). Without it the module is skipped.
"""

import json
import os
import re
import time
import uuid
from collections import Counter

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.storage.blob import BlobServiceClient, BlobType

CONNECTION_STRING = os.environ.get("AG_TEST_AZURITE_CONNECTION_STRING")
if not CONNECTION_STRING:
    pytest.skip(
        "AG_TEST_AZURITE_CONNECTION_STRING is unset: start Azurite and auditgraph with --storage-account "
        "as .ci/run does",
        allow_module_level=True,
    )

TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
WRITER = ("00000000-0000-0000-0000-00000000a002", "writer-secret")
MONITORING = ("00000000-0000-0000-0000-00000000a005", "monitoring-secret")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"

HTTPS = os.environ["AG_TEST_HTTPS_URL"].rstrip("/")
ADMIN = os.environ["AG_TEST_HTTP_URL"].rstrip("/") + "/_auditgraph"
EVENTS = f"{HTTPS}/v1.0/deviceManagement/auditEvents"
SETTINGS = f"{HTTPS}/providers/microsoft.intune/diagnosticSettings"
ARM_API = {"api-version": "2017-04-01-preview"}

STORAGE_ACCOUNT_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"
)
CONTAINER = "insights-logs-auditlogs"
PREFIX = "resourceId=/TENANTS/"
BLOB_NAME = re.compile(
    re.escape(f"{PREFIX}{TENANT.upper()}/PROVIDERS/MICROSOFT.INTUNE/")
    + r"y=\d{4}/m=\d{2}/d=\d{2}/h=\d{2}/m=00/PT1H\.json"
)
TIME_7 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")
# Azurite 3.35 serves Blob API 2025-11-05; azure-storage-blob 12.31.1 would send a
# newer version by default (.ci/run also starts Azurite with --skipApiVersionCheck).
BLOB_API_VERSION = "2025-11-05"


def credential(app):
    client_id, secret = app
    return ClientSecretCredential(
        tenant_id=TENANT,
        client_id=client_id,
        client_secret=secret,
        authority=HTTPS,  # MSAL uses f"{authority}/{tenant_id}"
        disable_instance_discovery=True,
    )


class BlobTail:
    """A storage input's poll: per blob, the offset read so far; a partial last line
    waits for the next poll. It compares the size with the saved offset before
    downloading: a range that starts at the end of a blob is an error (416) on Azure."""

    def __init__(self, container):
        self.container = container
        self.offsets = {}
        self.partial = {}
        self.downloads = 0

    def blob_names(self):
        try:
            items = list(self.container.list_blobs(name_starts_with=PREFIX))
        except ResourceNotFoundError:
            return []  # the router creates the container with the first delivery
        for item in items:
            assert item.blob_type == BlobType.APPENDBLOB, (item.name, item.blob_type)
        return sorted(item.name for item in items)

    def poll(self):
        """The records appended since the last poll, as (blob name, record)."""
        records = []
        for name in self.blob_names():
            blob = self.container.get_blob_client(name)
            size = blob.get_blob_properties().size
            saved = self.offsets.get(name, 0)
            assert size >= saved, f"{name} shrank from {saved} to {size} bytes"
            if size == saved:
                continue
            data = blob.download_blob(offset=saved, length=size - saved).readall()
            self.downloads += 1
            assert len(data) == size - saved, (name, saved, size, len(data))
            self.offsets[name] = size
            *complete, rest = (self.partial.pop(name, b"") + data).split(b"\n")
            if rest:
                self.partial[name] = rest
            records += [(name, json.loads(line)) for line in complete if line.strip()]
        return records


def flush():
    response = requests.post(f"{ADMIN}/routing/flush", timeout=120)
    assert response.status_code == 200, response.text


def write_events(count):
    """Posts `count` events as the writer app; returns them as Graph answered, by id."""
    token = credential(WRITER).get_token(GRAPH_SCOPE).token
    written = {}
    for i in range(count):
        body = {
            "displayName": f"Storage routing {uuid.uuid4().hex[:8]} #{i}",
            "category": "Application",
            "activityType": "Delete MobileApp",
            "activityOperationType": "Delete",
            "activityResult": "Success",
            "correlationId": str(uuid.uuid4()),
        }
        response = requests.post(EVENTS, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 201, response.text
        event = response.json()
        written[event["id"]] = event
    return written


def assert_delivered_once(records, written):
    ids = Counter(record["properties"]["AuditEventId"] for _, record in records)
    duplicates = {i: n for i, n in ids.items() if n > 1}
    assert not duplicates, f"delivered more than once: {duplicates}"
    assert set(ids) == set(written), (
        f"missing {sorted(set(written) - set(ids))}, unexpected {sorted(set(ids) - set(written))}"
    )
    for name, record in records:
        assert BLOB_NAME.fullmatch(name), name
        event = written[record["properties"]["AuditEventId"]]
        assert record["category"] == "AuditLogs", record
        assert TIME_7.fullmatch(record["time"]), record["time"]
        assert record["time"] == event["activityDateTime"], (record["time"], event["activityDateTime"])
        assert record["tenantId"].lower() == TENANT, record["tenantId"]
        assert record["operationName"] == event["displayName"], record
        assert record["correlationId"] == event["correlationId"], record
        assert record["resultType"] == "Success", record


@pytest.fixture(scope="module")
def tail():
    service = BlobServiceClient.from_connection_string(CONNECTION_STRING, api_version=BLOB_API_VERSION)
    tail = BlobTail(service.get_container_client(CONTAINER))
    tail.poll()  # whatever an earlier run left: this reader starts at the end
    yield tail


@pytest.fixture(scope="module")
def setting(tail):
    token = credential(MONITORING).get_token(ARM_SCOPE).token
    headers = {"Authorization": f"Bearer {token}"}
    name = f"sdk-storage-{uuid.uuid4().hex[:8]}"
    body = {
        "properties": {
            "storageAccountId": STORAGE_ACCOUNT_ID,
            "logs": [{"category": "AuditLogs", "enabled": True}],
        }
    }
    response = requests.put(f"{SETTINGS}/{name}", params=ARM_API, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    saved = response.json()
    assert saved["name"] == name, saved
    assert saved["properties"]["storageAccountId"].lower() == STORAGE_ACCOUNT_ID.lower(), saved
    assert {"category": "AuditLogs", "enabled": True}.items() <= saved["properties"]["logs"][0].items(), saved
    yield name
    response = requests.delete(f"{SETTINGS}/{name}", params=ARM_API, headers=headers, timeout=30)
    assert response.status_code in (200, 204), response.text


def test_a_flush_delivers_every_event_once_as_a_resource_log_record(tail, setting):
    written = write_events(5)
    flush()
    records = tail.poll()
    assert_delivered_once(records, written)
    # A flush answers once everything is appended: no record is cut between appends.
    assert not tail.partial, tail.partial
    # The admin API's view of the route: nothing pending or failed after the flush.
    status = requests.get(f"{ADMIN}/routing", timeout=30)
    assert status.status_code == 200, status.text
    routes = [r for r in status.json()["routes"] if r["setting"] == setting]
    assert [r["destination"] for r in routes] == ["storage"], status.text
    assert routes[0]["target"].lower() == STORAGE_ACCOUNT_ID.lower(), status.text
    assert routes[0]["delivered"] > 0 and routes[0]["pending"] == 0, status.text
    assert routes[0]["failures"] == 0 and routes[0]["lastError"] is None, status.text


def test_an_incremental_read_from_the_saved_offsets_sees_only_the_new_events(tail, setting):
    before = dict(tail.offsets)
    assert before, "the first test delivered nothing"
    written = write_events(3)
    flush()
    records = tail.poll()
    assert_delivered_once(records, written)
    assert not tail.partial, tail.partial
    # The blobs only grew: what was read stays where it was.
    for name, offset in before.items():
        assert tail.offsets[name] >= offset
    # Read whole, each blob holds every record once, in the order delivered.
    for name in tail.offsets:
        whole = tail.container.get_blob_client(name).download_blob().readall()
        ids = [json.loads(line)["properties"]["AuditEventId"] for line in whole.splitlines() if line.strip()]
        assert len(ids) == len(set(ids)), f"{name} holds a record twice"


def test_nothing_new_means_no_download(tail, setting):
    flush()
    downloads = tail.downloads
    assert tail.poll() == []
    assert tail.downloads == downloads, "the reader downloaded although no blob grew"
    # Every blob was compared with its saved offset, and each is exactly as long.
    for name, offset in tail.offsets.items():
        assert tail.container.get_blob_client(name).get_blob_properties().size == offset


def test_the_routing_window_delivers_without_a_flush(tail, setting):
    # .ci/run starts auditgraph with --routing-window 1s.
    written = write_events(2)
    records, deadline = [], time.monotonic() + 20
    while time.monotonic() < deadline:
        records += tail.poll()
        if len(records) >= len(written):
            break
        time.sleep(0.25)
    time.sleep(1.5)  # one more window: nothing may follow
    records += tail.poll()
    assert_delivered_once(records, written)
