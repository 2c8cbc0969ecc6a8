//! Rebuilds the bindings when the WIT package changes: `wit_bindgen::generate!` reads
//! `../wit` at compile time, and cargo does not otherwise know those files are inputs.

fn main() {
    println!("cargo:rerun-if-changed=../wit");
}
