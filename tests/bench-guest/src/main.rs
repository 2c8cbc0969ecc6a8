//! `hermes-bench-guest [N]`: assembles the harness context N times (default 1000) and
//! prints only a checksum. Built as a `wasm32-wasip2` command for the wasm side of the
//! benchmark.

fn main() {
    let iterations = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let workload = hermes_bench_guest::Workload::synthetic();
    println!("{}", hermes_bench_guest::run(&workload, iterations));
}
