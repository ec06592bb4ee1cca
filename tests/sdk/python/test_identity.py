"""Unmodified azure-identity against auditgraph's https listener (issue 3;
spec clients.md §2.3): ClientSecretCredential with auditgraph as the authority,
instance discovery disabled, auditgraph's local CA trusted through
REQUESTS_CA_BUNDLE / SSL_CERT_FILE.

.ci/run starts a server (with a few demo events) and names it in the
environment:

    AG_TEST_HTTPS_URL   https://localhost:PORT (the authority and the Graph API)
    AG_TEST_HTTP_URL    http://127.0.0.1:PORT
    AG_TEST_CA_FILE     {data_dir}/tls/ca.pem, also exported as REQUESTS_CA_BUNDLE
                        and SSL_CERT_FILE
"""

import base64
import json
import os
import time

import certifi
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

# The development tenant (README, "The development tenant").
TENANT = "7d0f0a2c-1b1e-4c55-9a3e-2f5c00000001"
READER_ID = "00000000-0000-0000-0000-00000000a001"
READER_SECRET = "reader-secret"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"

HTTPS = os.environ["AG_TEST_HTTPS_URL"].rstrip("/")
HTTP = os.environ["AG_TEST_HTTP_URL"].rstrip("/")
CA = os.environ["AG_TEST_CA_FILE"]
EVENTS = "/v1.0/deviceManagement/auditEvents"


def credential(secret):
    return ClientSecretCredential(
        tenant_id=TENANT,
        client_id=READER_ID,
        client_secret=secret,
        authority=HTTPS,  # MSAL uses f"{authority}/{tenant_id}"
        disable_instance_discovery=True,
    )


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_ca_is_trusted_through_the_environment():
    # azure-identity gets no CA argument: MSAL's requests session finds it here.
    assert os.environ.get("REQUESTS_CA_BUNDLE") == CA
    assert os.path.isfile(CA)
    # With only the public roots, the listener is not trusted: the CA is what makes it work.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{HTTPS}/healthz", verify=certifi.where(), timeout=10)
    assert requests.get(f"{HTTPS}/healthz", verify=CA, timeout=10).status_code == 200


def test_client_secret_credential_gets_a_token_and_lists_events():
    token = credential(READER_SECRET).get_token(GRAPH_DEFAULT)
    assert token.expires_on > time.time() + 3000
    got = claims(token.token)
    assert got["aud"] == "https://graph.microsoft.com"
    assert got["tid"] == TENANT
    assert got["appid"] == READER_ID
    assert got["roles"] == ["DeviceManagementApps.Read.All"]
    assert got["iss"] == f"https://sts.windows.net/{TENANT}/"

    response = requests.get(
        f"{HTTPS}{EVENTS}",
        params={"$top": "10"},
        headers={"Authorization": f"Bearer {token.token}"},
        verify=CA,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    page = response.json()
    assert page["@odata.context"] == f"{HTTPS}/v1.0/$metadata#deviceManagement/auditEvents"
    assert len(page["value"]) == 10, page
    event = page["value"][0]
    for key in ("id", "activityDateTime", "category", "actor", "resources"):
        assert key in event, event
    # The server has more than a page: the nextLink stays on the https origin and works.
    next_link = page["@odata.nextLink"]
    assert next_link.startswith(f"{HTTPS}{EVENTS}?"), next_link
    second = requests.get(next_link, headers={"Authorization": f"Bearer {token.token}"}, verify=CA, timeout=30)
    assert second.status_code == 200, second.text
    assert second.json()["value"], second.text

    # The same call without the token is Graph's 401.
    anonymous = requests.get(f"{HTTPS}{EVENTS}", verify=CA, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_a_cae_token_carries_the_client_capability_and_works():
    # With CAE, azure-identity sends claims={"access_token":{"xms_cc":{"values":["CP1"]}}}.
    token = credential(READER_SECRET).get_token(GRAPH_DEFAULT, enable_cae=True)
    assert claims(token.token)["xms_cc"] == ["CP1"]
    response = requests.get(
        f"{HTTPS}{EVENTS}", headers={"Authorization": f"Bearer {token.token}"}, verify=CA, timeout=30
    )
    assert response.status_code == 200, response.text


def test_a_wrong_secret_raises_client_authentication_error():
    with pytest.raises(ClientAuthenticationError) as info:
        credential("not-the-secret").get_token(GRAPH_DEFAULT)
    assert "AADSTS7000215" in str(info.value), str(info.value)
