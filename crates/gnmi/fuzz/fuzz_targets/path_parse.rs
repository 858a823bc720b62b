//! Path parser: never panics; print/parse round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fabric_gnmi::fuzzing::check_path(data);
});
