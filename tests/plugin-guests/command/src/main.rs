//! A plain WASI command: a component, but of `wasi:cli/command`, not a Hermes world.

fn main() {
    println!("hello from a command component");
}
