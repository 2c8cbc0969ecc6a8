//! The event envelope: what is appended to a deployment's log and delivered to subscribers.

use serde::Serialize;
use serde_json::{Map, Value};

/// An event as persisted and delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Gap-free per deployment, starting at 1.
    pub sequence: u64,
    /// `token`, `message`, `run_status`, …
    pub kind: String,
    /// Deployment it belongs to.
    pub deployment_id: String,
    /// Thread, when the event concerns one.
    pub thread_id: Option<String>,
    /// Run, when the event concerns one.
    pub run_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Type-specific fields, merged into the top level of the JSON data.
    pub payload: Map<String, Value>,
}

impl Event {
    /// The SSE id: `evt_<sequence>`.
    pub fn id(&self) -> String {
        format!("evt_{}", self.sequence)
    }

    /// The JSON `data` object clients receive.
    pub fn to_json(&self) -> Value {
        #[derive(Serialize)]
        struct Head<'a> {
            id: String,
            #[serde(rename = "type")]
            kind: &'a str,
            sequence: u64,
            deployment_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            thread_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            run_id: Option<&'a str>,
            created_at: &'a str,
        }
        let head = Head {
            id: self.id(),
            kind: &self.kind,
            sequence: self.sequence,
            deployment_id: &self.deployment_id,
            thread_id: self.thread_id.as_deref(),
            run_id: self.run_id.as_deref(),
            created_at: &self.created_at,
        };
        let mut obj = match serde_json::to_value(head) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (k, v) in &self.payload {
            // The envelope's fields win: a payload can never forge them.
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(obj)
    }
}

/// An event before it has a sequence number.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Event type.
    pub kind: String,
    /// Deployment.
    pub deployment_id: String,
    /// Thread, if any.
    pub thread_id: Option<String>,
    /// Run, if any.
    pub run_id: Option<String>,
    /// Type-specific fields.
    pub payload: Map<String, Value>,
}

impl NewEvent {
    /// A new event of `kind` with `payload` (a JSON object; anything else is wrapped as `{"value": …}`).
    pub fn new(kind: &str, deployment_id: &str, payload: Value) -> NewEvent {
        let payload = match payload {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        NewEvent { kind: kind.into(), deployment_id: deployment_id.into(), thread_id: None, run_id: None, payload }
    }

    /// Attaches thread and run ids.
    pub fn scoped(mut self, thread_id: Option<&str>, run_id: Option<&str>) -> NewEvent {
        self.thread_id = thread_id.map(str::to_string);
        self.run_id = run_id.map(str::to_string);
        self
    }
}
