fn main() {
    let src = std::env::args().nth(1).unwrap();
    match gradgen_core::emitted_code(&src) {
        Ok(s) => println!("{s}"),
        Err(e) => println!("ERR: {e}"),
    }
    if let Ok(d) = gradgen_core::ir_dump(&src) { println!("{d}"); }
    if let Ok(c) = gradgen_core::op_counts(&src) { println!("{c:?}"); }
}
