//! `cargo run --release -p hermes-fuzz -- [SECONDS_PER_TARGET]` (default 60): runs
//! every target for that long and prints executions and findings as a table.

fn main() {
    let secs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    // Panics are findings, reported below with their input; keep stderr readable.
    std::panic::set_hook(Box::new(|_| {}));
    println!("| target | seconds | executions | exec/s | findings |");
    println!("|---|---|---|---|---|");
    let mut total = 0;
    for t in hermes_fuzz::TARGETS {
        let (runs, findings) = hermes_fuzz::run_for(t, std::time::Duration::from_secs(secs));
        println!("| {} | {secs} | {runs} | {} | {} |", t.name, runs / secs.max(1), findings.len());
        for f in &findings {
            println!("  finding: {}", f.chars().take(300).collect::<String>());
        }
        total += findings.len();
    }
    std::process::exit(if total == 0 { 0 } else { 1 });
}
