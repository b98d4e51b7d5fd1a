#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(run) = runit_fuzz::target("extension_files") {
        run(data);
    }
});
