//! GraphQL subscriptions over graphql-transport-ws: events from every door (REST,
//! GraphQL, imports) reach a filtered subscription, bad filters and documents are
//! refused, `connection_init` needs a token, and a subscription ends when its
//! token expires.

use std::time::Duration;

use auditgraph::domain::graph::parse_event;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{
    CREATE, NOACCESS, READER, TestApp, client_credentials, days_ago, gql, no_errors, sample_event, sqlite,
};

const EVENTS: &str = "/v1.0/deviceManagement/auditEvents";

/// A graphql-transport-ws connection to `/graphql`.
pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(app: &TestApp) -> Socket {
    let mut request = app.url("/graphql").replacen("http", "ws", 1).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("websocket");
    assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
    socket
}

/// A connection opened with `token` (`connection_init`, acknowledged).
pub(crate) async fn connect_as(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(receive_json(&mut socket).await["type"], "connection_ack");
    socket
}

pub(crate) async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next protocol message (text frames only).
async fn receive(socket: &mut Socket) -> Message {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

pub(crate) async fn receive_json(socket: &mut Socket) -> Value {
    match receive(socket).await {
        Message::Text(text) => serde_json::from_str(&text).expect("JSON message"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_events_from_every_door() {
    let app = sqlite(&[]).await;
    let reader = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let mut socket = connect_as(&app, &reader).await;
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated(filter: \"category eq 'Device'\") { id category activityDateTime } }"}}),
    )
    .await;
    let device = |id: &str| {
        let mut e = sample_event(id, &days_ago(1));
        e["category"] = json!("Device");
        e
    };
    // The subscription starts listening a moment after `subscribe`: probe until it
    // hears one, then read on to the newest probe, so none is left in flight.
    let mut listening = false;
    for attempt in 0..40 {
        let newest = format!("probe-{attempt}");
        app.insert(vec![parse_event(&device(&newest), || unreachable!(), || unreachable!()).unwrap()]).await;
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(500), socket.next()).await
        {
            let mut message: Value = serde_json::from_str(&text).unwrap();
            while message["payload"]["data"]["auditEventCreated"]["id"] != newest.as_str() {
                assert!(
                    message["payload"]["data"]["auditEventCreated"]["id"]
                        .as_str()
                        .unwrap()
                        .starts_with("probe-"),
                    "{message}"
                );
                message = receive_json(&mut socket).await;
            }
            listening = true;
            break;
        }
    }
    assert!(listening, "the subscription never delivered a probe");
    let (status, _) = app.post_json(EVENTS, &sample_event("not-device", &days_ago(1))).await;
    assert_eq!(status, 201);
    let (status, _) = app.post_json(EVENTS, &device("via-rest")).await;
    assert_eq!(status, 201);
    let mut input = device("via-graphql");
    input.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    input["actor"].as_object_mut().unwrap().retain(|_, v| !v.is_null());
    no_errors(&gql(&app, CREATE, json!({"input": input})).await);
    let imported = parse_event(&device("via-import"), || unreachable!(), || unreachable!()).unwrap();
    app.insert(vec![imported]).await;
    // Outside the retention window: never served, so never delivered.
    app.insert(vec![
        parse_event(&device("too-old"), || unreachable!(), || unreachable!())
            .map(|mut e| {
                e.activity_date_time -= chrono::Duration::days(400);
                e
            })
            .unwrap(),
    ])
    .await;

    for expected in ["via-rest", "via-graphql", "via-import"] {
        let message = receive_json(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], "1");
        assert_eq!(message["payload"]["data"]["auditEventCreated"]["id"], expected, "{message}");
        assert_eq!(message["payload"]["data"]["auditEventCreated"]["category"], "Device");
    }
    send(&mut socket, json!({"id": "1", "type": "complete"})).await;
    socket.close(None).await.ok();

    // A bad filter is refused on subscribe, with REST's message.
    let mut socket = connect(&app).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {reader}")}}),
    )
    .await;
    assert_eq!(receive_json(&mut socket).await["type"], "connection_ack");
    send(&mut socket, json!({"id": "2", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated(filter: \"nope eq 1\") { id } }"}})).await;
    let message = receive_json(&mut socket).await;
    assert_eq!(message["type"], "next", "{message}");
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert!(error["message"].as_str().unwrap().starts_with("Invalid filter clause:"), "{message}");
    assert_eq!(receive_json(&mut socket).await["type"], "complete");
    // So is an invalid document (async-graphql answers `next` with errors, not `error`).
    send(&mut socket, json!({"id": "3", "type": "subscribe", "payload": {"query": "subscription { nope }"}}))
        .await;
    let message = receive_json(&mut socket).await;
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connection_init_needs_a_token() {
    let app = sqlite(&[]).await;
    let noaccess = client_credentials(&reqwest::Client::new(), &app.address, NOACCESS).await;
    for payload in [
        json!({}),
        json!({"Authorization": "Bearer not-a-jwt"}),
        json!({"Authorization": format!("Bearer {noaccess}")}),
    ] {
        let mut socket = connect(&app).await;
        send(&mut socket, json!({"type": "connection_init", "payload": payload})).await;
        match receive(&mut socket).await {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4403, "{payload}: {frame:?}"),
            other => panic!("{payload}: expected a 4403 close, got {other:?}"),
        }
    }
}

/// `token` re-signed with the server's own key, expiring `seconds` from now.
fn expiring_in(app: &TestApp, token: &str, seconds: i64) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let part = |i: usize| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    };
    let mut claims = part(1);
    claims["exp"] = json!(chrono::Utc::now().timestamp() + seconds);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = part(0)["kid"].as_str().map(String::from);
    let pem = std::fs::read_to_string(app.data_dir().join("identity/signing-key.pem")).unwrap();
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_when_its_token_expires() {
    let app = sqlite(&[]).await;
    let reader = client_credentials(&reqwest::Client::new(), &app.address, READER).await;
    let short_lived = expiring_in(&app, &reader, 3);
    let mut socket = connect_as(&app, &short_lived).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { auditEventCreated { id } }"}})).await;

    let expired = receive_json(&mut socket).await;
    assert_eq!(expired["type"], "next", "{expired}");
    assert_eq!(expired["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{expired}");
    assert!(expired["payload"]["errors"][0]["message"].as_str().unwrap().contains("expired"), "{expired}");
    assert_eq!(receive_json(&mut socket).await, json!({"id": "1", "type": "complete"}));
}
