//! GraphQL responses as JSON, written here rather than by serde so that an event
//! rendered ahead (`nodes::Node`, as `Value::Binary`) is copied in as it is. The
//! layout is async-graphql's own: `data`, then `extensions` and `errors` when
//! there are any; a batch is an array of them.

use async_graphql::{BatchResponse, Response, Value};

pub fn batch(response: &BatchResponse) -> Vec<u8> {
    // Sized for the renderings up front: a page of them is ~70 KB, which growing
    // by doubling copied again and again.
    let rendered = match response {
        BatchResponse::Single(r) => rendered_bytes(&r.data),
        BatchResponse::Batch(responses) => responses.iter().map(|r| rendered_bytes(&r.data)).sum(),
    };
    let mut out = Vec::with_capacity(rendered + 4096);
    match response {
        BatchResponse::Single(r) => write_response(&mut out, r),
        BatchResponse::Batch(responses) => {
            out.push(b'[');
            for (i, r) in responses.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_response(&mut out, r);
            }
            out.push(b']');
        }
    }
    out
}

fn write_response(out: &mut Vec<u8>, r: &Response) {
    out.extend_from_slice(b"{\"data\":");
    value(out, &r.data);
    if !r.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":{");
        for (i, (key, v)) in r.extensions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serialised(out, key);
            out.push(b':');
            value(out, v);
        }
        out.push(b'}');
    }
    if !r.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serialised(out, &r.errors);
    }
    out.push(b'}');
}

fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => serialised(out, n),
        Value::String(s) => serialised(out, s),
        Value::Enum(name) => serialised(out, name.as_str()),
        // Only `nodes::Node` makes these: an object rendered ahead, as JSON.
        Value::Binary(json) => out.extend_from_slice(json),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serialised(out, key.as_str());
                out.push(b':');
                value(out, member);
            }
            out.push(b'}');
        }
    }
}

/// The bytes of the renderings in `v`.
fn rendered_bytes(v: &Value) -> usize {
    match v {
        Value::Binary(json) => json.len(),
        Value::List(items) => items.iter().map(rendered_bytes).sum(),
        Value::Object(members) => members.values().map(rendered_bytes).sum(),
        _ => 0,
    }
}

fn serialised(out: &mut Vec<u8>, v: &(impl serde::Serialize + ?Sized)) {
    serde_json::to_writer(&mut *out, v).expect("a GraphQL response serialises");
}

#[cfg(test)]
mod tests {
    use async_graphql::{BatchResponse, Name, Pos, Response, ServerError, Value};

    /// What serde writes, for everything but `Value::Binary`.
    #[test]
    fn writes_what_serde_writes() {
        let data = Value::from_json(serde_json::json!({
            "a": [1, 2.5, -3, null, true, false, "x\"y\u{1}é"],
            "b": {"c": {}, "d": []},
        }))
        .unwrap();
        let with_everything = || {
            let mut r = Response::new(data.clone());
            r.extensions.insert("k".into(), Value::Enum(Name::new("E")));
            r.errors.push(ServerError::new("bad", Some(Pos { line: 1, column: 2 })));
            r
        };
        for response in [
            BatchResponse::Single(Response::new(data.clone())),
            BatchResponse::Single(with_everything()),
            BatchResponse::Single(Response::from_errors(vec![ServerError::new("no", None)])),
            BatchResponse::Batch(vec![Response::new(data.clone()), with_everything()]),
        ] {
            assert_eq!(
                String::from_utf8(super::batch(&response)).unwrap(),
                serde_json::to_string(&response).unwrap()
            );
        }
    }

    #[test]
    fn copies_renderings_in_as_they_are() {
        let data = Value::List(vec![Value::Binary(br#"{"id":"a"}"#.to_vec().into())]);
        let written = super::batch(&BatchResponse::Single(Response::new(data)));
        assert_eq!(written, br#"{"data":[{"id":"a"}]}"#);
    }
}
