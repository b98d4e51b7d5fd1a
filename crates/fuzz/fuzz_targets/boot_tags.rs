#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(run) = runit_fuzz::target("boot_tags") {
        run(data);
    }
});
