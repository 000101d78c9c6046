// Package stark is the Go guest SDK for STARK's WASM actors: it implements
// the guest contract v1 (docs/wasm-abi.md) so that an actor is a plain Go
// main package.
//
// # Building
//
// A guest is a reactor module built with the standard Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o actor.wasm ./actor
//
// The host runs _initialize once per instance, which runs the package
// init functions; main is never called (write an empty func main() {}).
// Register the actor's functions from init():
//
//	//go:build wasip1
//
//	package main
//
//	import "github.com/stark-rt/stark/wasmguest/go/stark"
//
//	func main() {}
//
//	func init() {
//		stark.Handle(func(m stark.Message) error {
//			return stark.Reply(m.Tag, m.Data) // echo
//		})
//	}
//
// # Messages and memory
//
// A message is a tag (uint32, the guest's own protocol) and opaque bytes;
// by convention structured payloads are MessagePack (Marshal, Unmarshal,
// SendValue, ReplyValue), which hosts and guests in every language read.
// The host writes each incoming payload into a region of the guest's memory
// that it got from the SDK's stark_alloc export; Message.Data is a view of
// those bytes, valid only while the handler runs. Outgoing payloads are
// copied by the host during the call (Send, Reply, ...), so the guest may
// reuse its buffers at once.
//
// # Errors and failures
//
// The calls return *StatusError values for the contract's status codes;
// test them with errors.Is against ErrNotFound, ErrFull, ErrStopped, ... . A
// handler or hook that returns an error, or panics, fails the actor: the
// SDK passes the reason to the host (the fail import) and returns INTERNAL
// (8), and the host closes the instance and lets the supervisor decide. A
// fatal Go runtime error (out of memory under the actor's memory limit, all
// goroutines asleep) cannot be recovered and ends as a trap; the runtime's
// message on stderr becomes part of the failure's reason.
//
// # Batching
//
// After the handler returns nil the SDK asks the host for the next queued
// message (the contract's next import) and handles it in the same call, so
// a busy actor pays one host-to-guest call per batch.
//
// # Outside a guest
//
// Built for any other platform (go vet, go test on the developer's machine)
// the package compiles with stand-ins: calls that need the host return
// ErrNotInGuest, so the pure parts of a guest can be unit-tested.
package stark
