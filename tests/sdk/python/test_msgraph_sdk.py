"""Microsoft's Python Graph SDKs (msgraph-sdk, msgraph-beta-sdk) against auditgraph,
used as their documentation shows for a national cloud: azure-identity's
ClientSecretCredential with auditgraph as the authority and instance discovery
disabled, GraphClientFactory.create_with_default_middleware(host=...) so the
default middleware (retry, redirect, ...) stays, and GraphServiceClient on that
adapter. Only the host, the authority and the trusted CA (REQUESTS_CA_BUNDLE /
SSL_CERT_FILE) differ from a real tenant.

The emulator's admin API (over http, from loopback) seeds the store and switches
throttling and faults. .ci/run starts a fresh server; see test_identity.py for the
environment variables.
"""

import asyncio
import os
import uuid
from datetime import datetime, timezone

import pytest
import requests
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.device_management.audit_events.audit_events_request_builder import (
    AuditEventsRequestBuilder,
)
from msgraph.generated.device_management.audit_events.count.count_request_builder import (
    CountRequestBuilder,
)
from msgraph.generated.models.audit_event import AuditEvent
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import APIVersion, GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
READER = ("00000000-0000-0000-0000-00000000a001", "reader-secret")
WRITER = ("00000000-0000-0000-0000-00000000a002", "writer-secret")
NOACCESS = ("00000000-0000-0000-0000-00000000a003", "noaccess-secret")
SCOPES = ["https://graph.microsoft.com/.default"]

HTTPS = os.environ["AG_TEST_HTTPS_URL"].rstrip("/")
ADMIN = os.environ["AG_TEST_HTTP_URL"].rstrip("/") + "/_auditgraph"
SEEDED = 120


def admin(method, path, body=None):
    response = requests.request(method, f"{ADMIN}{path}", json=body, timeout=120)
    assert response.status_code < 300, response.text
    return response.json() if response.text else None


@pytest.fixture(scope="module", autouse=True)
def seeded_store():
    # Deterministic data: the same seed and count give the same events.
    assert admin("POST", "/reset", {"count": SEEDED, "seed": 7})["seeded"] == SEEDED
    assert admin("GET", "/health")["events"] == SEEDED


def credential(app):
    client_id, secret = app
    return ClientSecretCredential(
        tenant_id=TENANT,
        client_id=client_id,
        client_secret=secret,
        authority=HTTPS,  # MSAL uses f"{authority}/{tenant_id}"
        disable_instance_discovery=True,
    )


def graph(app=READER):
    auth = AzureIdentityAuthenticationProvider(credential(app), scopes=SCOPES)
    http = GraphClientFactory.create_with_default_middleware(api_version=APIVersion.v1, host=HTTPS)
    return GraphServiceClient(request_adapter=GraphRequestAdapter(auth, http))


def beta_graph(app=READER):
    from msgraph_beta import GraphRequestAdapter as BetaAdapter
    from msgraph_beta import GraphServiceClient as BetaClient

    auth = AzureIdentityAuthenticationProvider(credential(app), scopes=SCOPES)
    http = GraphClientFactory.create_with_default_middleware(api_version=APIVersion.beta, host=HTTPS)
    return BetaClient(request_adapter=BetaAdapter(auth, http))


def run(coroutine):
    return asyncio.run(coroutine)


def list_config(**query):
    params = AuditEventsRequestBuilder.AuditEventsRequestBuilderGetQueryParameters(**query)
    return RequestConfiguration(query_parameters=params)


def test_list_with_filter_orderby_select_top_and_count():
    async def main():
        client = graph()
        page = await client.device_management.audit_events.get(
            request_configuration=list_config(
                filter="category eq 'Device' and activityDateTime ge 2020-01-01T00:00:00Z",
                orderby=["activityDateTime desc"],
                select=["id", "activityDateTime", "category", "activityType"],
                top=5,
                count=True,
            )
        )
        assert 5 < page.odata_count < SEEDED, page.odata_count
        assert len(page.value) == 5
        # On auditgraph's https origin (kiota's request path has an empty segment, kept).
        assert page.odata_next_link.startswith(f"{HTTPS}/v1.0/"), page.odata_next_link
        assert "/deviceManagement/auditEvents?" in page.odata_next_link
        assert all(e.category == "Device" for e in page.value)
        times = [e.activity_date_time for e in page.value]
        assert times == sorted(times, reverse=True)
        assert all(isinstance(t, datetime) and t.tzinfo is not None for t in times)
        # Only the selected properties come back.
        assert all(e.actor is None and e.activity_type for e in page.value)

    run(main())


def test_page_iterator_reads_every_page_and_the_total_matches_count():
    async def main():
        client = graph()
        first = await client.device_management.audit_events.get(
            request_configuration=list_config(top=7, count=True, orderby=["activityDateTime asc"])
        )
        assert first.odata_count == SEEDED
        seen = []

        def collect(event):
            seen.append(event.id)
            return True

        await PageIterator(first, client.request_adapter).iterate(collect)
        assert len(seen) == first.odata_count
        assert len(set(seen)) == len(seen)

    run(main())


def test_get_one_event():
    async def main():
        client = graph()
        page = await client.device_management.audit_events.get(request_configuration=list_config(top=1))
        wanted = page.value[0]
        event = await client.device_management.audit_events.by_audit_event_id(wanted.id).get()
        assert event.id == wanted.id
        assert event.activity_date_time == wanted.activity_date_time
        assert isinstance(event.correlation_id, uuid.UUID)
        assert event.actor is not None and event.resources is not None

    run(main())


def test_create_patch_and_delete_with_the_writer_app():
    async def main():
        client = graph(WRITER)
        created = await client.device_management.audit_events.post(
            AuditEvent(
                display_name="Create DeviceCompliancePolicy",
                component_name="DeviceCompliance",
                activity="Create DeviceCompliancePolicy",
                activity_date_time=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc),
                activity_type="Create DeviceCompliancePolicy",
                activity_operation_type="Create",
                activity_result="Success",
                correlation_id=uuid.UUID("21e86a8c-3010-46a8-86b5-4580e432ff52"),
                category="Compliance",
            )
        )
        assert created.id
        # Recorded as the calling app.
        assert created.actor.application_id == WRITER[0]

        events = client.device_management.audit_events.by_audit_event_id(created.id)
        patched = await events.patch(AuditEvent(display_name="Renamed", activity_result="Failure"))
        assert (patched.display_name, patched.activity_result, patched.category) == ("Renamed", "Failure", "Compliance")
        assert (await events.get()).display_name == "Renamed"

        await events.delete()
        with pytest.raises(ODataError) as info:
            await events.get()
        assert info.value.response_status_code == 404
        assert info.value.error.code == "ResourceNotFound"

    run(main())


def test_both_functions():
    async def main():
        client = graph()
        categories = await client.device_management.audit_events.get_audit_categories.get()
        assert len(categories.value) == 21
        assert "Device" in categories.value and "Compliance" in categories.value
        types = await client.device_management.audit_events.get_audit_activity_types_with_category("Device").get()
        assert types.value and all(isinstance(t, str) for t in types.value)

    run(main())


def test_the_count_segment():
    async def main():
        client = graph()
        assert await client.device_management.audit_events.count.get() == SEEDED
        params = CountRequestBuilder.CountRequestBuilderGetQueryParameters(filter="category eq 'Device'")
        devices = await client.device_management.audit_events.count.get(
            request_configuration=RequestConfiguration(query_parameters=params)
        )
        page = await client.device_management.audit_events.get(
            request_configuration=list_config(filter="category eq 'Device'", count=True, top=1)
        )
        assert devices == page.odata_count

    run(main())


def test_the_noaccess_app_gets_forbidden_as_an_odata_error():
    async def main():
        with pytest.raises(ODataError) as info:
            await graph(NOACCESS).device_management.audit_events.get()
        assert info.value.response_status_code == 403
        assert info.value.error.code == "Forbidden"
        assert "DeviceManagementApps.Read.All" in info.value.error.message
        assert info.value.error.inner_error.request_id

    run(main())


def test_a_429_is_absorbed_by_the_retry_handler():
    # One read per app per second: the second call is throttled with
    # Retry-After: 1, and kiota's RetryHandler waits and retries.
    admin("PATCH", "/throttling", {"limits": {"appAny": 1}, "windowSeconds": 1})
    admin("DELETE", "/requests")
    try:
        async def main():
            client = graph()
            await client.device_management.audit_events.get(request_configuration=list_config(top=1))
            page = await client.device_management.audit_events.get(request_configuration=list_config(top=2))
            assert len(page.value) == 2

        run(main())
    finally:
        admin("PATCH", "/throttling", {"limits": {"appAny": 1000}, "windowSeconds": 20})
    calls = [e for e in admin("GET", "/requests")["value"] if e["path"].endswith("/auditEvents")]
    assert [(e["status"], e["retryAttempt"]) for e in calls] == [(200, None), (429, None), (200, "1")], calls
    assert calls[1]["injected"] == ["throttled"]


def test_a_503_fault_is_retried_too():
    admin("PUT", "/faults", {"rules": [{"path": "*/auditEvents/$count", "nth": 1, "fault": "status", "status": 503, "retryAfter": 1}]})
    admin("DELETE", "/requests")
    try:
        assert run(graph().device_management.audit_events.count.get()) == SEEDED
    finally:
        admin("DELETE", "/faults")
    calls = [e for e in admin("GET", "/requests")["value"] if e["path"].endswith("/$count")]
    assert [(e["status"], e["retryAttempt"]) for e in calls] == [(503, None), (200, "1")], calls


def test_the_beta_sdk_makes_the_same_calls():
    async def main():
        client = beta_graph()
        page = await client.device_management.audit_events.get(
            request_configuration=RequestConfiguration(
                query_parameters=type(client.device_management.audit_events).AuditEventsRequestBuilderGetQueryParameters(
                    filter="category eq 'Device'", orderby=["activityDateTime desc"], top=3, count=True
                )
            )
        )
        assert len(page.value) == 3 and page.odata_next_link.startswith(f"{HTTPS}/beta/")
        event = await client.device_management.audit_events.by_audit_event_id(page.value[0].id).get()
        assert event.id == page.value[0].id
        # beta carries the actor's type under both names.
        assert event.actor.type == event.actor.audit_actor_type
        assert await client.device_management.audit_events.count.get() == SEEDED
        categories = await client.device_management.audit_events.get_audit_categories.get()
        assert len(categories.value) == 21
        seen = []
        await PageIterator(page, client.request_adapter).iterate(lambda e: seen.append(e.id) or True)
        assert len(seen) == page.odata_count

    run(main())


def test_an_empty_page_with_a_next_link_stops_the_page_iterator():
    # The chaos mode that reveals a client quirk (spec clients.md §5): msgraph-core's
    # PageIterator stops at an empty page even though it carries a nextLink.
    admin("PUT", "/faults", {"rules": [{"method": "GET", "path": "*/auditEvents", "nth": 2, "fault": "empty-page"}]})
    try:
        async def main():
            client = graph()
            first = await client.device_management.audit_events.get(request_configuration=list_config(top=10, count=True))
            seen = []
            await PageIterator(first, client.request_adapter).iterate(lambda e: seen.append(e.id) or True)
            return first.odata_count, seen

        total, seen = run(main())
    finally:
        admin("DELETE", "/faults")
    assert (len(seen), total) == (10, SEEDED)
    injected = [e["injected"] for e in admin("GET", "/requests")["value"] if e["path"].endswith("/auditEvents")]
    assert ["empty-page"] in injected
