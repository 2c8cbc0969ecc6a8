//! `hermes-host plugin new` (scaffold a plugin crate) and `plugin check` (validate a
//! component as an upload would).

use std::path::Path;

use anyhow::{Context, bail};

/// The WIT package a scaffold builds against, as this host speaks it.
const WIT: &[(&str, &str)] = &[
    ("agent.wit", include_str!("../../../wit/agent.wit")),
    ("approvals.wit", include_str!("../../../wit/approvals.wit")),
    ("automations.wit", include_str!("../../../wit/automations.wit")),
    ("events.wit", include_str!("../../../wit/events.wit")),
    ("logging.wit", include_str!("../../../wit/logging.wit")),
    ("mcp.wit", include_str!("../../../wit/mcp.wit")),
    ("memory.wit", include_str!("../../../wit/memory.wit")),
    ("model.wit", include_str!("../../../wit/model.wit")),
    ("skills.wit", include_str!("../../../wit/skills.wit")),
    ("subagents.wit", include_str!("../../../wit/subagents.wit")),
    ("threads.wit", include_str!("../../../wit/threads.wit")),
    ("tool.wit", include_str!("../../../wit/tool.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("worlds.wit", include_str!("../../../wit/worlds.wit")),
];

const CARGO_TOML: &str = include_str!("scaffold/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("scaffold/lib.rs.tmpl");
const README: &str = include_str!("scaffold/README.md.tmpl");

/// Writes a new plugin crate into `dir` (which must not exist or be empty).
pub fn new(name: &str, dir: &Path) -> anyhow::Result<()> {
    if !hermes_host::plugins::valid_name(name) {
        bail!("plugin name {name:?} must be a lowercase letter then up to 23 of [a-z0-9-] (it prefixes the tools)");
    }
    if dir.exists() && dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty", dir.display());
    }
    let file = name.replace('-', "_");
    let fill = |t: &str| t.replace("{{name}}", name).replace("{{crate}}", name).replace("{{file}}", &file);
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::create_dir_all(dir.join("wit"))?;
    std::fs::write(dir.join("Cargo.toml"), fill(CARGO_TOML))?;
    std::fs::write(dir.join("src/lib.rs"), fill(LIB_RS))?;
    std::fs::write(dir.join("README.md"), fill(README))?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    for (file, text) in WIT {
        std::fs::write(dir.join("wit").join(file), text)?;
    }
    println!("created {} — build it with:", dir.display());
    println!("  cd {} && cargo build --target wasm32-wasip2 --release", dir.display());
    Ok(())
}

/// Validates a component file; prints one line per problem (or the tool list) and
/// returns the exit code: 0 when it would be accepted, 1 otherwise.
pub async fn check(path: &Path, manifest: Option<&Path>) -> i32 {
    let shown = path.display();
    match hermes_host::plugins::check_file(path, manifest).await {
        Ok(checked) => {
            let i = &checked.inspected;
            let m = &checked.manifest;
            println!(
                "{shown}: ok: {} of hermes:agent@{}, {} bytes{}",
                i.world.as_str(),
                i.wit_version,
                std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
                m.name.as_deref().map(|n| format!(", name {n}")).unwrap_or_default()
            );
            if !m.capabilities.is_empty() {
                println!("{shown}: capabilities: {}", m.capabilities.join(", "));
            }
            for t in &i.tools {
                println!("{shown}: tool {}: {}", t.name, t.description);
            }
            0
        }
        Err(problem) => {
            println!("{shown}: error: {problem}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_scaffold_carries_every_file_of_the_wit_package() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("the wit folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".wit"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = super::WIT.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "a WIT file added to the package must be added to the scaffold");
    }
}
