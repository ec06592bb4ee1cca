//! Event hub events as AMQP messages: encoding what is stored, and the
//! broker's annotations a consumer reads on each event (live-routing.md §2.7).

use anyhow::Context;
use fe2o3_amqp_types::messaging::message::__private::Serializable;
use fe2o3_amqp_types::messaging::message::DecodeIntoMessage;
use fe2o3_amqp_types::messaging::{
    Body, Data, DeliveryAnnotations, Message, MessageAnnotations,
    annotations::{AnnotationKey as AnnotationKeyRef, Annotations},
};
use fe2o3_amqp_types::primitives::{Binary, Timestamp, Value};

use crate::domain::Ticks;
use crate::store::{HubEvent, PartitionHead};

/// Annotation keys of the service.
pub const SEQUENCE_NUMBER: &str = "x-opt-sequence-number";
pub const OFFSET: &str = "x-opt-offset";
pub const ENQUEUED_TIME: &str = "x-opt-enqueued-time";
pub const PARTITION_KEY: &str = "x-opt-partition-key";

/// A message with one data section: how Azure Monitor sends `{"records":[…]}`
/// (no content type or application properties: what it sets is unknown).
pub fn data_message(body: Vec<u8>) -> Vec<u8> {
    let message = Message::builder().data(Data(Binary::from(body))).build();
    serde_amqp::to_vec(&Serializable(message)).expect("a data message always encodes")
}

pub fn encode(message: &Message<Body<Value>>) -> anyhow::Result<Vec<u8>> {
    serde_amqp::to_vec(&Serializable(message)).context("the message cannot be encoded")
}

pub fn decode(bytes: &[u8]) -> anyhow::Result<Message<Body<Value>>> {
    Body::<Value>::decode_message_from_reader(serde_amqp::read::SliceReader::new(bytes))
        .context("a stored event hub message cannot be decoded")
}

/// The partition key a producer set on a message, if any.
pub fn partition_key(message: &Message<Body<Value>>) -> Option<String> {
    match message.message_annotations.as_ref()?.0.get(&PARTITION_KEY as &dyn AnnotationKeyRef)? {
        Value::String(key) => Some(key.clone()),
        Value::Symbol(key) => Some(key.0.clone()),
        _ => None,
    }
}

/// An instant (ticks) as the AMQP timestamp (milliseconds) the SDKs read.
pub fn timestamp(ticks: i64) -> Value {
    Value::Timestamp(Timestamp::from_milliseconds(Ticks(ticks).to_datetime().timestamp_millis()))
}

/// The stored message with the broker's annotations: sequence number, offset
/// (a string: Python's SDK decodes it as one), enqueued time and the
/// partition key; with `metrics`, the partition's head as delivery
/// annotations (the SDKs' "last enqueued event properties").
pub fn delivered(
    event: &HubEvent,
    metrics: Option<(&PartitionHead, i64)>,
) -> anyhow::Result<Message<Body<Value>>> {
    let mut message = decode(&event.message)?;
    let annotations =
        message.message_annotations.get_or_insert_with(|| MessageAnnotations(Annotations::new()));
    annotations.0.insert(SEQUENCE_NUMBER.into(), Value::Long(event.seq));
    annotations.0.insert(OFFSET.into(), Value::String(event.offset.to_string()));
    annotations.0.insert(ENQUEUED_TIME.into(), timestamp(event.enqueued_ticks));
    if let Some(key) = &event.partition_key {
        annotations.0.insert(PARTITION_KEY.into(), Value::String(key.clone()));
    }
    if let Some((head, now)) = metrics {
        let mut runtime = Annotations::new();
        runtime.insert("last_enqueued_sequence_number".into(), Value::Long(head.last_seq));
        runtime.insert("last_enqueued_offset".into(), Value::String(head.last_offset.to_string()));
        runtime.insert("last_enqueued_time_utc".into(), timestamp(head.last_enqueued_ticks));
        runtime.insert("runtime_info_retrieval_time_utc".into(), timestamp(now));
        message.delivery_annotations = Some(DeliveryAnnotations(runtime));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_message_comes_back_with_its_annotations() {
        let bytes = data_message(br#"{"records":[]}"#.to_vec());
        let event = HubEvent {
            seq: 7,
            offset: 4096,
            enqueued_ticks: Ticks::from_datetime(chrono::DateTime::from_timestamp(1_765_000_000, 0).unwrap())
                .0,
            partition_key: Some("device-1".into()),
            message: bytes,
        };
        let message = delivered(&event, None).unwrap();
        let body: Vec<u8> =
            message.body.clone().try_into_data().ok().unwrap().flat_map(|b| b.into_vec()).collect();
        assert_eq!(body, br#"{"records":[]}"#);
        let annotations = &message.message_annotations.as_ref().unwrap().0;
        assert_eq!(annotations.get(&SEQUENCE_NUMBER as &dyn AnnotationKeyRef), Some(&Value::Long(7)));
        assert_eq!(annotations.get(&OFFSET as &dyn AnnotationKeyRef), Some(&Value::String("4096".into())));
        assert_eq!(
            annotations.get(&ENQUEUED_TIME as &dyn AnnotationKeyRef),
            Some(&Value::Timestamp(Timestamp::from_milliseconds(1_765_000_000_000)))
        );
        assert_eq!(partition_key(&message).as_deref(), Some("device-1"));
        // Encoding again and decoding gives the same message.
        assert_eq!(decode(&encode(&message).unwrap()).unwrap(), message);
    }
}
