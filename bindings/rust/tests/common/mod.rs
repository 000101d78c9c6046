#![allow(dead_code)]
use std::time::Duration;

pub const T: Duration = Duration::from_secs(5);

/// One msgpack integer for 0..=127 (positive fixint) or the decoding of a
/// reply of the counter guest (fixint, or int/uint 8..64).
pub fn mp_small(n: u8) -> Vec<u8> {
    assert!(n < 0x80);
    vec![n]
}

pub fn mp_decode_int(b: &[u8]) -> i64 {
    match b[0] {
        x @ 0x00..=0x7f => x as i64,
        x @ 0xe0..=0xff => (x as i8) as i64,
        0xcc => b[1] as i64,
        0xcd => u16::from_be_bytes([b[1], b[2]]) as i64,
        0xce => u32::from_be_bytes(b[1..5].try_into().unwrap()) as i64,
        0xcf => u64::from_be_bytes(b[1..9].try_into().unwrap()) as i64,
        0xd0 => b[1] as i8 as i64,
        0xd1 => i16::from_be_bytes([b[1], b[2]]) as i64,
        0xd2 => i32::from_be_bytes(b[1..5].try_into().unwrap()) as i64,
        0xd3 => i64::from_be_bytes(b[1..9].try_into().unwrap()),
        x => panic!("not a msgpack int: {x:#x}"),
    }
}

/// $STARK_WASM_DIR, else the repository's build/wasm (`make guests`).
pub fn wasm_dir() -> std::path::PathBuf {
    match std::env::var_os("STARK_WASM_DIR") {
        Some(d) if !d.is_empty() => d.into(),
        _ => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/wasm"),
    }
}
