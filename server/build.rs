//! Rebuilds the server when the web client's built files (`web/public`,
//! embedded by `http::web`) change, added files included.

fn main() {
    println!("cargo::rerun-if-changed=../web/public");
}
