module github.com/stark-rt/stark

go 1.26

require (
	github.com/ebitengine/purego v0.11.3
	github.com/ianlancetaylor/cgosymbolizer v0.0.0-20241025222116-6b205f073fdd
	github.com/tetratelabs/wazero v1.12.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	golang.org/x/sys v0.44.0
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
