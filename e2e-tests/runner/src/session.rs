//! The context-aware host capabilities offline, as `kwctl run --allow-context-aware
//! --replay-host-capabilities-interactions FILE` gives them: each request the policy makes is answered
//! by the next exchange of a session file that `--record-host-capabilities-interactions` wrote
//! (kwctl's `src/callback_handler/proxy.rs`), and must be the request recorded there.
//!
//! A session file is a YAML list of `{type: Exchange, request, response}`; `request` is the host's
//! `CallbackRequestType` written by serde_yaml (`!KubernetesGetResource` and its fields), `response`
//! is `{type: Success, payload}` (the answer's JSON text) or `{type: Error, message}`.

use std::collections::VecDeque;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Exchange {
    request: String,
    response: Response,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum Response {
    Success { payload: String },
    Error { message: String },
}

/// The exchanges still to be replayed.
#[derive(Debug, Default)]
pub struct Session {
    exchanges: Mutex<VecDeque<Exchange>>,
}

/// The `CallbackRequestType` variant for each waPC operation of the `kubernetes` namespace.
const VARIANTS: [(&str, &str); 3] = [
    ("get_resource", "KubernetesGetResource"),
    (
        "list_resources_by_namespace",
        "KubernetesListResourceNamespace",
    ),
    ("list_resources_all", "KubernetesListResourceAll"),
];

impl Session {
    /// The session in the file at `path`.
    pub fn read(path: &str) -> Result<Session> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
        let exchanges: VecDeque<Exchange> = serde_saphyr::from_str(&text)
            .with_context(|| format!("cannot deserialize contents of {path:?}"))?;
        Ok(Session {
            exchanges: Mutex::new(exchanges),
        })
    }

    /// The recorded answer to the policy's `operation` of the `kubernetes` namespace with `payload`.
    pub fn answer(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let mut exchanges = self
            .exchanges
            .lock()
            .map_err(|_| anyhow!("the session is poisoned"))?;
        let exchange = exchanges
            .pop_front()
            .ok_or_else(|| anyhow!("the list of recorded responses is empty"))?;
        let asked: Value = serde_json::from_slice(payload)?;
        if !recorded(&exchange.request, operation, &asked)? {
            bail!(
                "Replay error: unexpected request. Was expecting {}, got {operation} {asked}",
                exchange.request.trim()
            );
        }
        match exchange.response {
            Response::Success { payload } => Ok(payload.into_bytes()),
            Response::Error { message } => Err(anyhow!(message)),
        }
    }
}

/// Whether `request`, as the session recorded it, is the policy's `operation` asked with `asked`: the
/// variant of the operation, and the same fields with the same values (kwctl compares the two requests
/// whole; a field one of them lacks is `null`). A recorded request that cannot be read is an error.
fn recorded(request: &str, operation: &str, asked: &Value) -> Result<bool> {
    let unreadable = || anyhow!("Cannot deserialize recorded request into `CallbackRequestType`");
    let (tag, fields) = request
        .trim_start()
        .split_once('\n')
        .ok_or_else(unreadable)?;
    let Value::Object(fields) =
        serde_saphyr::from_str::<Value>(fields).map_err(|_| unreadable())?
    else {
        return Err(unreadable());
    };
    let variant = VARIANTS
        .iter()
        .find(|(op, _)| *op == operation)
        .map(|(_, variant)| *variant);
    if variant.is_none_or(|variant| tag.trim() != format!("!{variant}")) {
        return Ok(false);
    }
    let Value::Object(asked) = asked else {
        return Ok(false);
    };
    let same = |key: &String| {
        fields.get(key).unwrap_or(&Value::Null) == asked.get(key).unwrap_or(&Value::Null)
    };
    Ok(fields.keys().chain(asked.keys()).all(same))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REQUEST: &str = "!KubernetesGetResource\napi_version: tekton.dev/v1\nkind: Pipeline\nname: build\nnamespace: ci\ndisable_cache: false\n";

    /// A session of one exchange: `request` as recorded, and its `response`.
    fn session(request: &str, response: Response) -> Session {
        let exchange = Exchange {
            request: request.to_string(),
            response,
        };
        Session {
            exchanges: Mutex::new(VecDeque::from([exchange])),
        }
    }

    fn asked(name: &str) -> Vec<u8> {
        json!({"api_version": "tekton.dev/v1", "kind": "Pipeline", "name": name, "namespace": "ci", "disable_cache": false})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_recorded_request_gets_its_answer_once() {
        let replay = session(
            REQUEST,
            Response::Success {
                payload: "{\"kind\":\"Pipeline\"}".to_string(),
            },
        );
        let answer = replay
            .answer("get_resource", &asked("build"))
            .expect("answered");
        assert_eq!(answer, b"{\"kind\":\"Pipeline\"}");
        let again = replay.answer("get_resource", &asked("build"));
        assert_eq!(
            again.expect_err("no more").to_string(),
            "the list of recorded responses is empty"
        );
    }

    /// kwctl compares the requests whole: a field the recording lacks does not match anything.
    #[test]
    fn a_recording_without_a_field_matches_no_request() {
        let without_a_name = "!KubernetesGetResource\napi_version: tekton.dev/v1\nkind: Pipeline\nnamespace: ci\ndisable_cache: false\n";
        let replay = session(
            without_a_name,
            Response::Success {
                payload: "{}".to_string(),
            },
        );
        let error = replay
            .answer("get_resource", &asked("build"))
            .expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("Replay error: unexpected request")
        );
    }

    #[test]
    fn another_request_or_a_recorded_error_is_an_error() {
        let replay = session(
            REQUEST,
            Response::Success {
                payload: "{}".to_string(),
            },
        );
        let error = replay
            .answer("get_resource", &asked("deploy"))
            .expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("Replay error: unexpected request")
        );
        let replay = session(
            REQUEST,
            Response::Error {
                message: "pipelines.tekton.dev \"build\" not found".to_string(),
            },
        );
        let error = replay
            .answer("get_resource", &asked("build"))
            .expect_err("an error");
        assert_eq!(
            error.to_string(),
            "pipelines.tekton.dev \"build\" not found"
        );
    }
}
