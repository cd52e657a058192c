//! Any bytes uploaded as a Rewardful CSV: the reader must answer with rows, row errors or a file
//! error, and never panic, loop or grow without bound.
#![no_main]

use app::domain::rewardful::Reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = Reader::new(data) {
        let _ = reader.unknown_columns();
        // Every call consumes input, so this ends; a file error ends it early.
        while let Ok(Some(row)) = reader.next_row() {
            if let Ok(row) = row {
                assert!(row.line >= 2, "a data row comes after the header");
                assert!(!row.email.as_str().is_empty());
            }
        }
    }
});
