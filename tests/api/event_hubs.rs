//! The Event Hubs endpoint through fe2o3-amqp's own client, for the protocol
//! edges the SDK suites (tests/sdk) cannot reach: positions, credit, epochs,
//! refusals, SASL, producer batches, and what a restart keeps. The SDKs'
//! view (CBS, `$management`, consumers and producers) is in
//! tests/sdk/python/test_event_hubs.py and tests/sdk/js/event-hubs.test.js.

use std::net::SocketAddr;
use std::time::Duration;

use fe2o3_amqp::Delivery;
use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::link::CreditMode;
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::definitions::Fields;
use fe2o3_amqp::types::definitions::MessageFormat;
use fe2o3_amqp::types::messaging::{
    Body, Data, Message, MessageAnnotations, Source, annotations::Annotations,
};
use fe2o3_amqp::types::primitives::{Binary, Symbol, Value};
use fe2o3_amqp::{Connection, Receiver, Sendable, Sender, Session};
use serde_amqp::described::Described;
use serde_amqp::descriptor::Descriptor;

use crate::helpers::{Backend, TestApp};

pub(crate) const KEY: &str = "SAS_KEY_VALUE";
const SELECTOR: &str = "apache.org:selector-filter:string";

pub(crate) struct Client {
    pub connection: ConnectionHandle<()>,
    pub session: SessionHandle<()>,
}

impl Client {
    /// Connects with SASL `PLAIN` (the namespace's key name and `key`).
    pub async fn connect(addr: SocketAddr, key: &str) -> Result<Client, String> {
        let mut connection = Connection::builder()
            .container_id(format!("test-{}", uuid::Uuid::new_v4()))
            .sasl_profile(SaslProfile::Plain {
                username: "RootManageSharedAccessKey".into(),
                password: key.into(),
            })
            .open(format!("amqp://{addr}").as_str())
            .await
            .map_err(|e| format!("{e:?}"))?;
        let session = Session::begin(&mut connection).await.map_err(|e| format!("{e:?}"))?;
        Ok(Client { connection, session })
    }

    pub async fn close(mut self) {
        let _ = self.session.end().await;
        let _ = self.connection.close().await;
    }

    pub async fn receiver(&mut self, address: &str, filter: Option<&str>, epoch: Option<i64>) -> Receiver {
        let mut source = Source::builder().address(address.to_string());
        if let Some(filter) = filter {
            source = source.add_to_filter(
                SELECTOR,
                Described {
                    descriptor: Descriptor::Name(Symbol::from(SELECTOR)),
                    value: Value::String(filter.into()),
                },
            );
        }
        let mut builder = Receiver::builder()
            .name(format!("receiver-{}", uuid::Uuid::new_v4()))
            .source(source.build())
            .target("test");
        if let Some(epoch) = epoch {
            let mut properties = Fields::new();
            properties.insert(Symbol::from("com.microsoft:epoch"), Value::Long(epoch));
            builder = builder.properties(properties);
        }
        builder.attach(&mut self.session).await.expect("receiver attaches")
    }

    pub async fn sender(&mut self, address: &str) -> Sender {
        Sender::attach(&mut self.session, format!("sender-{}", uuid::Uuid::new_v4()), address.to_string())
            .await
            .expect("sender attaches")
    }
}

/// The next `n` events a receiver gets, within a few seconds each.
pub(crate) async fn take(receiver: &mut Receiver, n: usize) -> Vec<Delivery<Body<Value>>> {
    let mut out = Vec::new();
    while out.len() < n {
        let delivery = tokio::time::timeout(Duration::from_secs(10), receiver.recv::<Body<Value>>())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} events arrived", out.len()))
            .expect("an event");
        out.push(delivery);
    }
    out
}

/// Whether anything arrives within `wait`.
async fn nothing_within(receiver: &mut Receiver, wait: Duration) -> bool {
    tokio::time::timeout(wait, receiver.recv::<Body<Value>>()).await.is_err()
}

/// Why the server detached a link: its error's condition and text.
async fn refusal(receiver: &mut Receiver) -> String {
    let error = tokio::time::timeout(Duration::from_secs(10), receiver.recv::<Body<Value>>())
        .await
        .expect("the link is detached within 10 s")
        .expect_err("the link is refused");
    format!("{error}")
}

pub(crate) fn annotation(delivery: &Delivery<Body<Value>>, key: &str) -> Value {
    let annotations = &delivery.message().message_annotations.as_ref().expect("annotations").0;
    annotations
        .get(&key as &dyn fe2o3_amqp::types::messaging::annotations::AnnotationKey)
        .cloned()
        .unwrap_or(Value::Null)
}

pub(crate) fn body_text(delivery: &Delivery<Body<Value>>) -> String {
    match delivery.body() {
        Body::Data(sections) => {
            String::from_utf8(sections.iter().flat_map(|d| d.0.as_slice().to_vec()).collect()).expect("UTF-8")
        }
        Body::Value(value) => match &value.0 {
            Value::String(s) => s.clone(),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

fn data(text: &str) -> Message<Data> {
    Message::builder().data(Binary::from(text.as_bytes().to_vec())).build()
}

async fn serve(extra: &[&str]) -> TestApp {
    let mut flags = vec!["--eventhubs", "127.0.0.1:0", "--eventhub", "orders", "--throttling", "off"];
    flags.extend_from_slice(extra);
    TestApp::spawn(Backend::Sqlite, &flags).await.expect("SQLite always runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_back_in_order_with_the_broker_annotations_from_any_position() {
    let app = serve(&[]).await;
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let mut sender = client.sender("orders/Partitions/1").await;
    for i in 0..3 {
        sender
            .send(data(&format!("event {i}")))
            .await
            .unwrap()
            .accepted_or_else(|o| panic!("{o:?}"))
            .unwrap();
    }
    let mut all = client.receiver("orders/ConsumerGroups/$Default/Partitions/1", None, None).await;
    let events = take(&mut all, 3).await;
    let mut offsets = Vec::new();
    let mut enqueued = Vec::new();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(body_text(event), format!("event {i}"));
        assert_eq!(annotation(event, "x-opt-sequence-number"), Value::Long(i as i64));
        let Value::String(offset) = annotation(event, "x-opt-offset") else {
            panic!("the offset is a string")
        };
        offsets.push(offset.parse::<i64>().unwrap());
        let Value::Timestamp(at) = annotation(event, "x-opt-enqueued-time") else { panic!("a timestamp") };
        enqueued.push(at.milliseconds());
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets grow: {offsets:?}");
    // Another partition holds none of them.
    let mut other = client.receiver("orders/ConsumerGroups/$Default/Partitions/0", None, None).await;
    assert!(nothing_within(&mut other, Duration::from_millis(700)).await);
    // From a sequence number (exclusive and inclusive), an offset, and the end.
    let cases = [
        ("amqp.annotation.x-opt-sequence-number > '0'", vec!["event 1", "event 2"]),
        ("amqp.annotation.x-opt-sequence-number >= '2'", vec!["event 2"]),
        (&*format!("amqp.annotation.x-opt-offset > '{}'", offsets[0]), vec!["event 1", "event 2"]),
        ("amqp.annotation.x-opt-offset > '-1'", vec!["event 0", "event 1", "event 2"]),
        (
            &*format!("amqp.annotation.x-opt-enqueued-time >= '{}'", enqueued[0]),
            vec!["event 0", "event 1", "event 2"],
        ),
        // After an event's own enqueued time: not that event again (times are whole milliseconds).
        (&*format!("amqp.annotation.x-opt-enqueued-time > '{}'", enqueued[2]), vec![]),
    ];
    for (filter, expected) in cases {
        let mut receiver =
            client.receiver("orders/ConsumerGroups/$Default/Partitions/1", Some(filter), None).await;
        let got: Vec<String> = take(&mut receiver, expected.len()).await.iter().map(body_text).collect();
        assert_eq!(got, expected, "{filter}");
        assert!(nothing_within(&mut receiver, Duration::from_millis(300)).await, "{filter}: nothing more");
    }
    let mut latest = client
        .receiver(
            "orders/ConsumerGroups/$Default/Partitions/1",
            Some("amqp.annotation.x-opt-offset > '@latest'"),
            None,
        )
        .await;
    assert!(nothing_within(&mut latest, Duration::from_millis(500)).await, "@latest skips what is there");
    sender.send(data("event 3")).await.unwrap();
    let live = take(&mut latest, 1).await;
    assert_eq!(body_text(&live[0]), "event 3");
    assert_eq!(annotation(&live[0], "x-opt-sequence-number"), Value::Long(3));
    // A consumer already attached hears of it too (woken, not polled late).
    assert_eq!(body_text(&take(&mut all, 1).await[0]), "event 3");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_together_and_keys_pick_a_stable_partition() {
    let app = serve(&[]).await;
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let mut sender = client.sender("orders").await;
    // A batch (format 0x80013700): data sections, each a whole encoded message with its own key.
    let inner: Vec<Data> = (0..3)
        .map(|i| {
            let mut annotations = Annotations::new();
            annotations.insert("x-opt-partition-key".into(), Value::String("device-42".into()));
            let message = Message::builder()
                .message_annotations(MessageAnnotations(annotations))
                .data(Binary::from(format!("batched {i}").into_bytes()))
                .build();
            Data(Binary::from(
                serde_amqp::to_vec(&fe2o3_amqp::types::messaging::message::__private::Serializable(message))
                    .unwrap(),
            ))
        })
        .collect();
    let batch = Message::builder().data_batch(inner).build();
    let sendable = Sendable::builder().message(batch).message_format(0x8001_3700 as MessageFormat).build();
    sender.send(sendable).await.unwrap().accepted_or_else(|o| panic!("{o:?}")).unwrap();
    let (status, routing) = app.get_json("/_auditgraph/routing").await;
    assert_eq!(status, 200);
    let hub =
        routing["eventHubs"].as_array().unwrap().iter().find(|h| h["name"] == "orders").unwrap().clone();
    let holding: Vec<&serde_json::Value> =
        hub["partitions"].as_array().unwrap().iter().filter(|p| p["lastSequenceNumber"] != -1).collect();
    assert_eq!(holding.len(), 1, "one batch, one partition: {hub}");
    assert_eq!(holding[0]["lastSequenceNumber"], 2);
    let partition = holding[0]["id"].as_str().unwrap().to_string();
    let mut receiver =
        client.receiver(&format!("orders/ConsumerGroups/$Default/Partitions/{partition}"), None, None).await;
    let events = take(&mut receiver, 3).await;
    let bodies: Vec<String> = events.iter().map(body_text).collect();
    assert_eq!(bodies, ["batched 0", "batched 1", "batched 2"]);
    assert!(events.iter().all(|e| annotation(e, "x-opt-partition-key") == Value::String("device-42".into())));
    // The same key goes to the same partition again.
    let mut annotations = Annotations::new();
    annotations.insert("x-opt-partition-key".into(), Value::String("device-42".into()));
    let single = Message::builder()
        .message_annotations(MessageAnnotations(annotations))
        .data(Binary::from(b"single".to_vec()))
        .build();
    sender.send(single).await.unwrap();
    assert_eq!(body_text(&take(&mut receiver, 1).await[0]), "single");
    // Over 1 MiB the link is detached with the service's condition, and nothing is stored.
    let mut oversize = client.sender("orders/Partitions/3").await;
    let sent = oversize.send(data(&"x".repeat(1024 * 1024 + 1))).await;
    assert!(
        format!("{sent:?}").contains("message-size-exceeded")
            || format!("{sent:?}").contains("MessageSizeExceeded"),
        "{sent:?}"
    );
    let (_, routing) = app.get_json("/_auditgraph/routing").await;
    assert_eq!(routing["eventHubs"][0]["partitions"][3]["lastSequenceNumber"], -1, "{routing}");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_bounds_what_is_sent() {
    let app = serve(&[]).await;
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let mut sender = client.sender("orders/Partitions/2").await;
    for i in 0..5 {
        sender.send(data(&format!("c{i}"))).await.unwrap();
    }
    let mut receiver = Receiver::builder()
        .name("manual-credit")
        .source("orders/ConsumerGroups/$Default/Partitions/2")
        .target("test")
        .credit_mode(CreditMode::Manual)
        .attach(&mut client.session)
        .await
        .unwrap();
    assert!(nothing_within(&mut receiver, Duration::from_millis(500)).await, "no credit, no events");
    receiver.set_credit(2).await.unwrap();
    let two: Vec<String> = take(&mut receiver, 2).await.iter().map(body_text).collect();
    assert_eq!(two, ["c0", "c1"]);
    assert!(nothing_within(&mut receiver, Duration::from_millis(500)).await, "exactly the credit");
    receiver.set_credit(10).await.unwrap();
    let rest: Vec<String> = take(&mut receiver, 3).await.iter().map(body_text).collect();
    assert_eq!(rest, ["c2", "c3", "c4"]);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_epoch_takes_the_partition() {
    let app = serve(&[]).await;
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let address = "orders/ConsumerGroups/$Default/Partitions/0";
    let mut plain = client.receiver(address, None, None).await;
    let mut first = client.receiver(address, None, Some(1)).await;
    // An epoch reader disconnects readers without one.
    assert!(refusal(&mut plain).await.contains("higher epoch"));
    let mut second = client.receiver(address, None, Some(2)).await;
    let stolen = refusal(&mut first).await;
    assert!(stolen.contains("amqp:link:stolen") || stolen.contains("Stolen"), "{stolen}");
    assert!(stolen.contains("epoch '1'"), "{stolen}");
    // Lower epochs, and readers without one, are refused while epoch 2 reads.
    let mut lower = client.receiver(address, None, Some(1)).await;
    assert!(refusal(&mut lower).await.contains("higher epoch 2"));
    let mut none = client.receiver(address, None, None).await;
    assert!(refusal(&mut none).await.contains("epoch 2"));
    // Other consumer groups are not affected; the holder still reads.
    let mut elsewhere = client.receiver("orders/ConsumerGroups/audit/Partitions/0", None, Some(1)).await;
    let mut sender = client.sender("orders/Partitions/0").await;
    sender.send(data("after the steal")).await.unwrap();
    assert_eq!(body_text(&take(&mut second, 1).await[0]), "after the steal");
    assert_eq!(body_text(&take(&mut elsewhere, 1).await[0]), "after the steal");
    // When the holder goes, a lower epoch may read again.
    second.close().await.unwrap();
    let mut again = client.receiver(address, None, Some(1)).await;
    assert_eq!(body_text(&take(&mut again, 1).await[0]), "after the steal");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_entities_bad_filters_and_missing_tokens_are_refused_in_the_services_terms() {
    let app = serve(&["--eventhubs-partitions", "2"]).await;
    let addr = app.eventhubs.unwrap();
    let mut client = Client::connect(addr, KEY).await.unwrap();
    let cases = [
        ("nosuchhub/ConsumerGroups/$Default/Partitions/0", None, "could not be found"),
        ("orders/ConsumerGroups/$Default/Partitions/2", None, "It should be between 0 and 1"),
        ("orders/ConsumerGroups/$Default/Partitions/x", None, "It should be between 0 and 1"),
        (
            "orders/ConsumerGroups/$Default/Partitions/0",
            Some("amqp.annotation.x-opt-offset < '5'"),
            "x-opt-offset",
        ),
        ("orders/somewhere", None, "could not be found"),
    ];
    for (address, filter, expected) in cases {
        let mut receiver = client.receiver(address, filter, None).await;
        let reason = refusal(&mut receiver).await;
        assert!(reason.contains(expected), "{address}: {reason}");
    }
    // A key that is not the namespace's fails SASL.
    let wrong = Client::connect(addr, "not-the-key").await;
    assert!(wrong.is_err(), "a wrong PLAIN key connects");
    // ANONYMOUS without a CBS token may not attach to a hub.
    let mut connection = Connection::builder()
        .container_id("anonymous")
        .sasl_profile(SaslProfile::Anonymous)
        .open(format!("amqp://{addr}").as_str())
        .await
        .unwrap();
    let mut session = Session::begin(&mut connection).await.unwrap();
    let mut receiver =
        Receiver::attach(&mut session, "anon", "orders/ConsumerGroups/$Default/Partitions/0").await.unwrap();
    let reason = refusal(&mut receiver).await;
    assert!(reason.contains("Unauthorized access") && reason.contains("$cbs"), "{reason}");
    // The endpoint keeps serving the others.
    let mut sender = client.sender("orders/Partitions/0").await;
    sender.send(data("still here")).await.unwrap();
    client.close().await;
}

/// Sends one request to a node (`$cbs`, `$management`); returns the reply's
/// `status-code` and `status-description`.
async fn ask(client: &mut Client, node: &str, properties: &[(&str, &str)], body: Value) -> (i32, String) {
    use fe2o3_amqp::types::messaging::{ApplicationProperties, Properties};
    use fe2o3_amqp::types::primitives::{OrderedMap, SimpleValue};
    let mut replies = client.receiver(node, None, None).await;
    let mut requests = client.sender(node).await;
    let mut application = OrderedMap::new();
    for (key, value) in properties {
        application.insert(key.to_string(), SimpleValue::String(value.to_string()));
    }
    let request = Message::builder()
        .properties(Properties::builder().message_id(uuid::Uuid::new_v4().to_string()).build())
        .application_properties(ApplicationProperties(application))
        .value(body)
        .build();
    requests.send(request).await.expect("the request is taken");
    let reply = take(&mut replies, 1).await.remove(0);
    let answered = &reply.message().application_properties.as_ref().expect("reply properties").0;
    let status = match answered.get("status-code") {
        Some(SimpleValue::Int(code)) => *code,
        other => panic!("status-code {other:?}"),
    };
    let description = match answered.get("status-description") {
        Some(SimpleValue::String(text)) => text.clone(),
        other => panic!("status-description {other:?}"),
    };
    (status, description)
}

/// What the nodes do not support is answered with a status and a reason, as the
/// service answers, and the connection goes on: another token type, another
/// operation, a READ without a name, of an unknown type, of an unknown hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_answer_what_they_do_not_support_with_a_reason() {
    let app = serve(&[]).await;
    let mut client = Client::connect(app.eventhubs.unwrap(), KEY).await.unwrap();
    let jwt = [("operation", "put-token"), ("type", "jwt"), ("name", "sb://localhost/orders")];
    let (status, reason) = ask(&mut client, "$cbs", &jwt, Value::String("a.b.c".into())).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("SAS tokens only"), "{reason}");
    let other = [("operation", "delete-token"), ("type", "servicebus.windows.net:sastoken")];
    let (status, reason) = ask(&mut client, "$cbs", &other, Value::String("x".into())).await;
    assert_eq!((status, reason.as_str()), (400, "$cbs supports the operation 'put-token' only."));
    let not_a_string = [("operation", "put-token"), ("type", "servicebus.windows.net:sastoken")];
    let (status, reason) = ask(&mut client, "$cbs", &not_a_string, Value::Long(7)).await;
    assert_eq!(status, 400, "{reason}");

    type Pairs = &'static [(&'static str, &'static str)];
    let cases: [(Pairs, i32, &str); 4] = [
        (
            &[("operation", "READ"), ("type", "com.microsoft:queue"), ("name", "orders")],
            400,
            "Unknown READ type",
        ),
        (
            &[("operation", "READ"), ("type", "com.microsoft:eventhub")],
            400,
            "needs the application property 'name'",
        ),
        (&[("operation", "CREATE"), ("name", "orders")], 400, "'READ' only"),
        (
            &[("operation", "READ"), ("type", "com.microsoft:eventhub"), ("name", "nosuch")],
            404,
            "could not be found",
        ),
    ];
    for (properties, expected, words) in cases {
        let (status, reason) = ask(&mut client, "$management", properties, Value::Null).await;
        assert_eq!(status, expected, "{properties:?}: {reason}");
        assert!(reason.contains(words), "{properties:?}: {reason}");
    }
    // Still serving: a READ that is right.
    let read = [("operation", "READ"), ("type", "com.microsoft:eventhub"), ("name", "orders")];
    assert_eq!(ask(&mut client, "$management", &read, Value::Null).await.0, 200);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_prints_the_connection_string_and_a_taken_default_port_falls_back() {
    let app = serve(&["--eventhubs-key", "a-key-of-my-own"]).await;
    let port = app.eventhubs.unwrap().port();
    assert!(
        app.banner.contains(&format!(
            "Endpoint=sb://localhost:{port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=a-key-of-my-own;UseDevelopmentEmulator=true;EntityPath=insights-logs-auditlogs"
        )),
        "{}",
        app.banner
    );
    assert!(Client::connect(app.eventhubs.unwrap(), "a-key-of-my-own").await.is_ok());
    // The default port: held here if free (RabbitMQ may hold it already).
    let _held = std::net::TcpListener::bind("127.0.0.1:5672");
    let fallback = TestApp::spawn(Backend::Sqlite, &["--eventhubs", "127.0.0.1:5672"]).await.unwrap();
    let addr = fallback.eventhubs.unwrap();
    assert_ne!(addr.port(), 5672);
    assert!(fallback.banner.contains("127.0.0.1:5672 is taken"), "{}", fallback.banner);
    assert!(Client::connect(addr, KEY).await.is_ok());
    // An address asked for that cannot be had is an error that says what to do.
    let taken = format!("127.0.0.1:{port}");
    let data_dir = tempfile::tempdir().unwrap();
    let error = crate::helpers::serve_in(data_dir.path(), &["--eventhubs", &taken])
        .await
        .expect_err("a taken port is an error");
    assert!(format!("{error:#}").contains("--eventhubs 127.0.0.1:0, or off"), "{error:#}");
    // So is a hub name Event Hubs would refuse.
    let data_dir = tempfile::tempdir().unwrap();
    let error = crate::helpers::serve_in(data_dir.path(), &["--eventhubs", "off", "--eventhub", "bad/name"])
        .await
        .expect_err("a bad hub name is an error");
    assert!(format!("{error:#}").contains("is not a valid event hub name"), "{error:#}");
}
