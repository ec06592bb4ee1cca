"""msgraph-sdk against a cluster of auditgraph instances (scripts/cluster: N instances on
one PostgreSQL behind HAProxy, round-robin per request): the SDK pages through 5,000
events with every nextLink answered by a different instance than the one that issued
it, and a token one instance issued is accepted by the others.

The client is built as in test_msgraph_sdk.py (azure-identity's ClientSecretCredential
with the balancer as the authority, GraphClientFactory's default middleware,
GraphServiceClient), on an httpx.AsyncClient of our own whose response hook records
the `x-auditgraph-instance` header every instance sets.

Skipped unless .ci/run started a cluster: AG_TEST_CLUSTER_HTTPS_URL (the balancer over
https, https://localhost:PORT+1), AG_TEST_CLUSTER_URL (over http, for the admin API),
and the cluster's CA trusted through REQUESTS_CA_BUNDLE / SSL_CERT_FILE.
"""

import asyncio
import os

import pytest

if not os.environ.get("AG_TEST_CLUSTER_HTTPS_URL"):
    pytest.skip("no cluster: AG_TEST_CLUSTER_HTTPS_URL is not set (.ci/run starts one)", allow_module_level=True)

import requests
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.kiota_client_factory import KiotaClientFactory
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.device_management.audit_events.audit_events_request_builder import (
    AuditEventsRequestBuilder,
)
from msgraph_core import APIVersion, GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
READER = ("00000000-0000-0000-0000-00000000a001", "reader-secret")
SCOPES = ["https://graph.microsoft.com/.default"]
INSTANCE = "x-auditgraph-instance"

HTTPS = os.environ["AG_TEST_CLUSTER_HTTPS_URL"].rstrip("/")
ADMIN = os.environ["AG_TEST_CLUSTER_URL"].rstrip("/") + "/_auditgraph"
CA = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True
SEEDED = 5000
PAGE = 500


def admin(method, path, body=None):
    response = requests.request(method, f"{ADMIN}{path}", json=body, timeout=300)
    assert response.status_code < 300, response.text
    return response.json() if response.text else None


@pytest.fixture(scope="module", autouse=True)
def seeded_store():
    # One store for the whole cluster: seeded through one instance, read through all.
    assert admin("POST", "/reset", {"count": SEEDED, "seed": 5})["seeded"] == SEEDED
    assert admin("GET", "/health")["events"] == SEEDED


def credential(app=READER):
    client_id, secret = app
    return ClientSecretCredential(
        tenant_id=TENANT,
        client_id=client_id,
        client_secret=secret,
        authority=HTTPS,  # MSAL uses f"{authority}/{tenant_id}"
        disable_instance_discovery=True,
    )


def graph(responses):
    """A GraphServiceClient whose every Graph response lands in `responses` as
    (request URL, status, instance)."""

    async def record(response):
        responses.append((str(response.request.url), response.status_code, response.headers.get(INSTANCE)))

    # GraphClientFactory uses host only when it builds the client itself; with our
    # client (kiota's defaults plus the hook) the base URL is ours to set.
    client = KiotaClientFactory.get_default_client()
    client.base_url = f"{HTTPS}/{APIVersion.v1}"
    client.event_hooks = {"request": [], "response": [record]}
    http = GraphClientFactory.create_with_default_middleware(api_version=APIVersion.v1, client=client, host=HTTPS)
    auth = AzureIdentityAuthenticationProvider(credential(), scopes=SCOPES)
    return GraphServiceClient(request_adapter=GraphRequestAdapter(auth, http))


def test_page_iterator_pages_5000_events_with_every_next_link_answered_by_another_instance():
    responses = []

    async def main():
        client = graph(responses)
        params = AuditEventsRequestBuilder.AuditEventsRequestBuilderGetQueryParameters(
            top=PAGE, count=True, orderby=["activityDateTime asc"]
        )
        first = await client.device_management.audit_events.get(
            request_configuration=RequestConfiguration(query_parameters=params)
        )
        assert first.odata_count == SEEDED
        assert len(first.value) == PAGE
        next_links = [first.odata_next_link]
        seen = []

        def collect(event):
            seen.append(event.id)
            return True

        iterator = PageIterator(first, client.request_adapter)
        await iterator.iterate(collect)
        return seen, next_links

    seen, next_links = asyncio.run(main())

    assert len(seen) == SEEDED
    assert len(set(seen)) == SEEDED, f"{SEEDED - len(set(seen))} duplicate ids across pages"
    pages = SEEDED // PAGE
    assert len(responses) == pages, responses
    assert all(status == 200 for _, status, _ in responses), responses
    # The nextLinks name the balancer over https (the scheme the SDK used), never an instance.
    # (kiota's request path has an empty segment, kept, as in test_msgraph_sdk.py.)
    for url, _, _ in responses[1:]:
        assert url.startswith(f"{HTTPS}/v1.0/") and "/deviceManagement/auditEvents?" in url, url
        assert "$skiptoken=" in url, url
    assert next_links[0] == responses[1][0]
    instances = [instance for _, _, instance in responses]
    assert all(instances), f"a response without {INSTANCE}: {responses}"
    # Round robin: each nextLink was answered by another instance than the page that issued it.
    for page, (issuer, answerer) in enumerate(zip(instances, instances[1:]), start=1):
        assert issuer != answerer, f"page {page} and page {page + 1} both from {issuer}: {instances}"
    assert len(set(instances)) == 3, instances


def test_a_token_one_instance_issued_is_accepted_by_the_others():
    token = requests.post(
        f"{HTTPS}/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": READER[0],
            "client_secret": READER[1],
            "scope": SCOPES[0],
        },
        verify=CA,
        timeout=30,
    )
    assert token.status_code == 200, token.text
    issuer = token.headers[INSTANCE]
    answered = set()
    with requests.Session() as session:
        for _ in range(6):
            response = session.get(
                f"{HTTPS}/v1.0/deviceManagement/auditEvents?$top=1",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                verify=CA,
                timeout=30,
            )
            assert response.status_code == 200, (response.headers.get(INSTANCE), response.text)
            answered.add(response.headers[INSTANCE])
    assert answered - {issuer}, f"every request went to the issuer {issuer}"
    assert len(answered) == 3, answered
