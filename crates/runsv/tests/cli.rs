//! probe test (temporary)
#[test]
fn binary_is_built() {
    let p = std::path::Path::new(env!("CARGO_BIN_EXE_runsv"));
    assert!(p.exists());
}
