//go:build cgo

package main

// A crash inside C code called from the runtime (a native handler) prints
// the C frames too, not only the Go ones.
import _ "github.com/ianlancetaylor/cgosymbolizer"
