# The Rust crate (bindings/rust): std-only bindings over abi/stark.h.
# Included by the top-level Makefile, which defines LIB, LIB_DIR, WASM_OUT and
# the targets lib and guests; paths are relative to the repository root.
#
#   make test-rust     cargo test + the echo example, against $(LIB_DIR)
#   make test-rust CARGO_TEST_FLAGS="-- --nocapture"

CARGO            ?= cargo
RUST_TARGET_DIR  ?= build/rust
CARGO_TEST_FLAGS ?=
RUST_MANIFEST    := bindings/rust/Cargo.toml
RUST_ENV         := CARGO_TARGET_DIR=$(abspath $(RUST_TARGET_DIR)) \
	STARK_LIB_DIR=$(abspath $(LIB_DIR)) STARK_WASM_DIR=$(abspath $(WASM_OUT))

.PHONY: test-rust rust-check

## test-rust: the Rust crate's tests and its echo example.
test-rust: lib guests
	$(RUST_ENV) $(CARGO) test --offline --manifest-path $(RUST_MANIFEST) $(CARGO_TEST_FLAGS)
	$(RUST_ENV) $(CARGO) run --offline --manifest-path $(RUST_MANIFEST) --example echo

## rust-check: rustfmt and clippy on the Rust crate (where installed).
rust-check:
	$(CARGO) fmt --manifest-path $(RUST_MANIFEST) --check
	$(RUST_ENV) $(CARGO) clippy --offline --manifest-path $(RUST_MANIFEST) --all-targets -- -D warnings
