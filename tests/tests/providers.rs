//! Both model providers against the local model server: streaming, tool calls,
//! usage, retries and the errors a caller sees.

use std::collections::HashMap;
use std::time::Duration;

use hermes_providers::{
    ChatMessage, ChatRequest, ChatRole, Completion, ProviderError, Providers, ProvidersConfig, RetryPolicy, StopReason,
    ToolCall, ToolSpec,
};
use hermes_tests::mock_llm::{MockLlm, Reply};
use serde_json::{Value, json};

/// The two wire formats, as `provider/model` names.
const MODELS: [&str; 2] = ["openai/gpt-test", "anthropic/claude-test"];

fn env_for(llm: &MockLlm) -> HashMap<String, String> {
    HashMap::from([
        ("OPENAI_API_KEY".into(), "sk-test-openai".into()),
        ("OPENAI_BASE_URL".into(), llm.openai_base_url()),
        ("ANTHROPIC_API_KEY".into(), "sk-ant-test".into()),
        ("ANTHROPIC_BASE_URL".into(), llm.anthropic_base_url()),
    ])
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(20) }
}

fn providers(llm: &MockLlm) -> Providers {
    Providers::new(&ProvidersConfig::default(), &env_for(llm), fast_retries())
}

fn user(text: &str) -> ChatMessage {
    ChatMessage {
        role: ChatRole::User,
        content: text.into(),
        tool_calls: vec![],
        tool_call_id: None,
        is_error: false,
        images: Vec::new(),
    }
}

fn request(model: &str, messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: "You are a test.".into(),
        messages,
        tools: vec![ToolSpec {
            name: "write_file".into(),
            description: "Writes a file".into(),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}),
        }],
        max_tokens: 256,
    }
}

/// Runs one completion through `providers`, returning it and the deltas streamed.
async fn complete(
    p: &Providers,
    model: &str,
    messages: Vec<ChatMessage>,
) -> (Result<Completion, ProviderError>, Vec<String>) {
    let (provider, name) = p.resolve(model).expect("model resolves");
    let mut deltas = Vec::new();
    let mut on_delta = |d: &str| deltas.push(d.to_string());
    let r = provider.complete(&request(&name, messages), &mut on_delta).await;
    (r, deltas)
}

#[tokio::test]
async fn streamed_text_deltas_concatenate_to_the_reply_with_usage() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    let text = "Hello from the mock model, streamed word by word.";
    for model in MODELS {
        llm.push(Reply::text(text));
        let (r, deltas) = complete(&p, model, vec![user("hi")]).await;
        let c = r.unwrap_or_else(|e| panic!("{model}: {e}"));
        assert!(deltas.len() > 3, "{model}: streamed in pieces, got {deltas:?}");
        assert_eq!(deltas.concat(), text, "{model}");
        assert_eq!(c.content, text, "{model}");
        assert_eq!(c.stop_reason, StopReason::EndTurn, "{model}");
        assert!(c.tool_calls.is_empty(), "{model}");
        assert_eq!(c.usage.output_tokens, 9, "{model}: one token per word");
        assert!(c.usage.input_tokens > 10, "{model}: input tokens reported, got {}", c.usage.input_tokens);
    }
    let reqs = llm.requests();
    assert_eq!(reqs[0]["model"], "gpt-test");
    assert_eq!(reqs[0]["stream"], true);
    assert_eq!(reqs[0]["stream_options"]["include_usage"], true);
    assert_eq!(reqs[0]["messages"][0], json!({"role": "system", "content": "You are a test."}));
    assert_eq!(reqs[1]["model"], "claude-test");
    // The system prompt is a cached block (prompt caching marks the stable prefix).
    assert_eq!(
        reqs[1]["system"],
        json!([{"type": "text", "text": "You are a test.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(reqs[1]["messages"][0]["role"], "user");
    assert_eq!(reqs[1]["tools"][0]["input_schema"]["type"], "object");
    let headers = llm.request_headers();
    let has = |i: usize, k: &str, v: &str| headers[i].iter().any(|(hk, hv)| hk == k && hv == v);
    assert!(has(0, "authorization", "Bearer sk-test-openai"), "{:?}", headers[0]);
    assert!(has(1, "x-api-key", "sk-ant-test"), "{:?}", headers[1]);
    assert!(has(1, "anthropic-version", "2023-06-01"), "{:?}", headers[1]);
}

#[tokio::test]
async fn tool_call_arguments_split_across_chunks_are_reassembled() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    let args = json!({"path": "notes/hello.txt", "content": "a longer body, so it spans many chunks — ✓"});
    for model in MODELS {
        llm.push(Reply::TextAndToolCalls(
            "Writing it.".into(),
            vec![("write_file".into(), args.clone()), ("list".into(), json!({}))],
        ));
        let (r, deltas) = complete(&p, model, vec![user("save a note")]).await;
        let c = r.unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(deltas.concat(), "Writing it.", "{model}");
        assert_eq!(c.stop_reason, StopReason::ToolUse, "{model}");
        assert_eq!(c.tool_calls.len(), 2, "{model}: {:?}", c.tool_calls);
        assert_eq!(c.tool_calls[0].name, "write_file");
        let got: Value = serde_json::from_str(&c.tool_calls[0].arguments).expect("arguments are JSON");
        assert_eq!(got, args, "{model}");
        assert_eq!(c.tool_calls[1].arguments, "{}", "{model}");
        assert_ne!(c.tool_calls[0].id, c.tool_calls[1].id, "{model}: ids are unique");
    }
}

#[tokio::test]
async fn tool_results_go_back_in_each_providers_shape() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    for model in MODELS {
        llm.push(Reply::text("Done."));
        let history = vec![
            user("save a note"),
            ChatMessage {
                role: ChatRole::Assistant,
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "id_1".into(),
                    name: "write_file".into(),
                    arguments: r#"{"path":"a"}"#.into(),
                }],
                tool_call_id: None,
                is_error: false,
                images: Vec::new(),
            },
            ChatMessage {
                role: ChatRole::Tool,
                content: "disk full".into(),
                tool_calls: vec![],
                tool_call_id: Some("id_1".into()),
                is_error: true,
                images: Vec::new(),
            },
        ];
        let (r, _) = complete(&p, model, history).await;
        assert_eq!(r.unwrap_or_else(|e| panic!("{model}: {e}")).content, "Done.");
    }
    let reqs = llm.requests();
    let openai = &reqs[0]["messages"];
    assert_eq!(openai[2]["tool_calls"][0]["function"]["name"], "write_file");
    assert_eq!(openai[3]["role"], "tool");
    assert_eq!(openai[3]["tool_call_id"], "id_1");
    let anthropic = &reqs[1]["messages"];
    assert_eq!(
        anthropic[1]["content"][0],
        json!({"type": "tool_use", "id": "id_1", "name": "write_file", "input": {"path": "a"}})
    );
    assert_eq!(
        anthropic[2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "id_1", "content": "disk full",
               "is_error": true, "cache_control": {"type": "ephemeral"}}]}),
        "the newest block ends the cached prefix"
    );
    assert_eq!(anthropic[2]["content"][0]["cache_control"], json!({"type": "ephemeral"}));
}

#[tokio::test]
async fn rate_limited_twice_then_success_is_retried() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    for (i, model) in MODELS.into_iter().enumerate() {
        llm.fail_next(429, 2);
        llm.push(Reply::text("eventually"));
        let (r, deltas) = complete(&p, model, vec![user("hi")]).await;
        assert_eq!(r.unwrap_or_else(|e| panic!("{model}: {e}")).content, "eventually");
        assert_eq!(deltas.concat(), "eventually", "{model}: no duplicate deltas");
        assert_eq!(llm.requests().len(), 3 * (i + 1), "{model}: two refusals, then the answer");
    }
}

#[tokio::test]
async fn server_errors_that_persist_are_unavailable_after_all_attempts() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    for (i, model) in MODELS.into_iter().enumerate() {
        llm.fail_next(503, 10);
        let (r, deltas) = complete(&p, model, vec![user("hi")]).await;
        match r {
            Err(ProviderError::Unavailable(m)) => {
                assert!(m.contains("503") && m.contains("4 attempts"), "{model}: {m}")
            }
            other => panic!("{model}: expected Unavailable, got {other:?}"),
        }
        assert!(deltas.is_empty());
        assert_eq!(llm.requests().len(), 4 * (i + 1), "{model}: max_attempts requests");
        llm.fail_next(503, 0);
    }
}

#[tokio::test]
async fn a_bad_request_is_invalid_without_retry() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    for (i, model) in MODELS.into_iter().enumerate() {
        llm.fail_next(400, 1);
        let (r, _) = complete(&p, model, vec![user("hi")]).await;
        match r {
            Err(ProviderError::InvalidRequest(m)) => {
                assert!(m.contains("400") && m.contains("injected failure"), "{model}: the provider's message: {m}");
                assert!(!m.contains("sk-"), "{model}: no key in {m}");
            }
            other => panic!("{model}: expected InvalidRequest, got {other:?}"),
        }
        assert_eq!(llm.requests().len(), i + 1, "{model}: not retried");
    }
}

#[tokio::test]
async fn unauthorized_names_the_key_variable() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    for (model, var) in MODELS.into_iter().zip(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]) {
        llm.fail_next(401, 1);
        match complete(&p, model, vec![user("hi")]).await.0 {
            Err(ProviderError::InvalidRequest(m)) => {
                assert!(m.contains("401") && m.contains(var), "{model}: {m}")
            }
            other => panic!("{model}: expected InvalidRequest, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_missing_api_key_names_the_env_var() {
    let llm = MockLlm::start().await;
    let env = HashMap::from([
        ("OPENAI_BASE_URL".to_string(), llm.openai_base_url()),
        ("ANTHROPIC_BASE_URL".to_string(), llm.anthropic_base_url()),
    ]);
    let p = Providers::new(&ProvidersConfig::default(), &env, fast_retries());
    for (model, var) in MODELS.into_iter().zip(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]) {
        match p.resolve(model) {
            Err(ProviderError::InvalidRequest(m)) => assert!(m.contains(var), "{model}: {m}"),
            Err(e) => panic!("{model}: expected InvalidRequest, got {e:?}"),
            Ok(_) => panic!("{model}: resolved without a key"),
        }
    }
    assert!(llm.requests().is_empty());
}

#[tokio::test]
async fn a_configured_provider_answers_under_its_own_name() {
    // A custom provider from config, pointed at the mock: base URL (here with `/v1`),
    // kind and key variable all come from `[providers.*]`.
    let llm = MockLlm::start().await;
    let config: ProvidersConfig = toml::from_str(&format!(
        "[local]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\napi_key_env = \"LOCAL_KEY\"",
        llm.anthropic_base_url()
    ))
    .expect("valid config");
    let env = HashMap::from([("LOCAL_KEY".to_string(), "k-local".to_string())]);
    let p = Providers::new(&config, &env, fast_retries());
    llm.push(Reply::text("hi from local"));
    let (r, _) = complete(&p, "local/claude-local", vec![user("hi")]).await;
    assert_eq!(r.expect("custom provider answers").content, "hi from local");
    assert_eq!(llm.requests()[0]["model"], "claude-local");
    assert!(llm.request_headers()[0].iter().any(|(k, v)| k == "x-api-key" && v == "k-local"));
}

#[tokio::test]
async fn a_hanging_model_can_be_cancelled_by_dropping_the_call() {
    let llm = MockLlm::start().await;
    let p = providers(&llm);
    for model in MODELS {
        llm.push(Reply::Hang);
        let call = complete(&p, model, vec![user("hi")]);
        assert!(tokio::time::timeout(Duration::from_millis(200), call).await.is_err(), "{model}: still waiting");
    }
    assert_eq!(llm.requests().len(), 2);
}
