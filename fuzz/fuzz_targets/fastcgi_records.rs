//! The FastCGI record decoder (`src/http/fastcgi/records.rs`) over arbitrary bytes, as a web
//! server, or anyone who reaches the socket, may send them: the first byte picks how the rest
//! is cut into reads (1 to 256 bytes each), the bounds are small so that they are reached.
//! Any panic is a bug; so is a request or a buffer beyond the bounds, or an answer that is
//! not whole FastCGI records.
#![no_main]

#[path = "../../src/http/fastcgi/records.rs"]
#[allow(dead_code)]
mod records;

use libfuzzer_sys::fuzz_target;
use records::{Decoder, Step};

const MAX_REQUEST: usize = 4096;
const MAX_PAIR: usize = 1024;

/// Whether `bytes` are whole records of version 1.
fn whole_records(mut bytes: &[u8]) -> bool {
    while let Some(header) = bytes.get(..8) {
        let len = 8 + usize::from(u16::from_be_bytes([header[4], header[5]])) + usize::from(header[6]);
        if header[0] != 1 || bytes.len() < len {
            return false;
        }
        bytes = &bytes[len..];
    }
    bytes.is_empty()
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let chunk = usize::from(cut) + 1;
    let mut decoder = Decoder::new(MAX_REQUEST, MAX_PAIR, 8);
    let mut input = Vec::new();
    for piece in rest.chunks(chunk) {
        input.extend_from_slice(piece);
        loop {
            let Ok((taken, step)) = decoder.step(&input) else { return };
            assert!(taken <= input.len());
            input.drain(..taken);
            match step {
                Step::More => break,
                Step::Request(request) => {
                    assert!(request.stdin.len() <= MAX_REQUEST);
                    for (name, value) in request.params() {
                        assert!(name.len() + value.len() <= MAX_PAIR);
                    }
                    let mut out = Vec::new();
                    records::answer(&mut out, request.id, &request.stdin);
                    assert!(whole_records(&out));
                }
                Step::Send(bytes) => assert!(whole_records(&bytes)),
            }
        }
        // What waits for the rest of a record: at most one record, header and padding
        // included, past what a read brings.
        assert!(input.len() <= 8 + 65_535 + 255 + chunk);
    }
});
