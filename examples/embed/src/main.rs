//! An edge host in one file: embed Hermes Host, create a deployment, send it a
//! message and print what the agent does — no HTTP anywhere.
//!
//! ```text
//! OPENAI_API_KEY=… cargo run -p hermes-embed -- --model openai/gpt-4o-mini "Write hello.txt"
//! ```

use std::io::Write;

use hermes_host::{DeploymentSpec, Host, ThreadTarget};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut model = std::env::var("HERMES_MODEL").ok();
    if let Some(i) = args.iter().position(|a| a == "--model") {
        anyhow::ensure!(i + 1 < args.len(), "--model needs a value such as openai/gpt-4o-mini");
        model = Some(args.remove(i + 1));
        args.remove(i);
    }
    let message = args.join(" ");
    anyhow::ensure!(!message.trim().is_empty(), "usage: hermes-embed [--model provider/model] MESSAGE");
    let data_dir = std::env::var("HERMES_DATA_DIR").unwrap_or_else(|_| "./hermes-embed-data".into());

    let host = Host::builder(&data_dir).build().await?;
    let deployment = host
        .create_deployment(DeploymentSpec {
            model,
            ..serde_json::from_value(serde_json::json!({
                "customer_id": "cus_local",
                "name": "Embedded agent",
                "system_prompt": "You are a concise assistant with a persistent workspace."
            }))?
        })
        .await?;
    let mut events = host.subscribe(&deployment.deployment_id, 0).await?;
    let ticket = host.send_message(&deployment.deployment_id, message, ThreadTarget::Default).await?;

    loop {
        let event = events.next().await?;
        match event.kind.as_str() {
            "token" => {
                print!("{}", event.payload["delta"].as_str().unwrap_or_default());
                std::io::stdout().flush()?;
            }
            "tool_call" => println!("\n[tool] {} {}", event.payload["tool"], event.payload["arguments"]),
            "run_status" if event.run_id.as_deref() == Some(&ticket.run_id) => {
                let status = event.payload["status"].as_str().unwrap_or_default().to_string();
                if status != "running" {
                    println!("\n[{status}] {}", event.payload.get("error").and_then(|e| e.as_str()).unwrap_or(""));
                    break;
                }
            }
            _ => {}
        }
    }
    println!("workspace: {}", host.workspace_dir(&deployment.deployment_id).display());
    host.shutdown().await;
    Ok(())
}
