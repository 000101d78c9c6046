// Package mem provides pooled, reference-counted host buffers.
//
// A Buffer is a byte slice that travels inside actor messages. Sending a
// Buffer moves its reference to the receiver, so the bytes are never copied;
// whoever holds the last reference calls Release, and the backing array goes
// back to the Pool it came from. The same buffers are later handed to C as
// opaque handles and to Python through the buffer protocol, which is why a
// released buffer must be detectable rather than silently aliasing memory
// that has already been given to someone else.
//
// # Handles and backing arrays
//
// Every Get returns a fresh *Buffer handle (48 bytes); handles are never
// reused (they are allocated in batches, which is why a Get that hits the
// cache usually allocates nothing). Backing arrays are reused: each size class keeps a free list of
// arrays. Once a handle's last reference is released its Bytes is nil, and
// Retain, Release and SetLen report ErrReleased; a stale handle can never
// reach an array that a later Get handed to someone else.
//
// The free lists are plain mutex-guarded stacks, not sync.Pool: sync.Pool
// drops its contents at every garbage collection and cannot say how much it
// holds, while a Pool must account for every byte it keeps.
//
// # Limits
//
// Every Pool has two limits, fixed when it is made (see Config):
//
//   - the byte limit bounds live bytes: the memory handed out and not yet
//     released. A Get that would pass it fails with ErrPoolExhausted and
//     allocates nothing. That is back-pressure, not a crash: the caller may
//     retry after other holders release, shed load, or report the error.
//   - max cached bytes bounds idle memory kept on the free lists for reuse.
//     A released array that would pass it is left to the garbage collector.
//
// So a Pool never holds more than limit + max cached bytes of backing arrays.
// A request the pool can never satisfy, even when empty, fails with
// ErrTooLarge instead, so callers can tell "wait" from "never".
//
// Live bytes count what a buffer occupies, not what was asked for: a Get of
// 100 bytes takes a 128-byte array from the default classes and counts 128.
// Requests larger than the largest class get an exact-size array that is
// counted against the limit too but is never cached when released.
//
// # Concurrency
//
// Pool methods and Buffer's Retain, Release and Refs are safe for concurrent
// use. The reference count is changed with compare-and-swap, so a double
// release is reported once as ErrReleased and never frees an array twice.
// The contents and length of a Buffer are not synchronised: the goroutine
// that holds a buffer owns its bytes, and handing it to another goroutine
// (through a channel or an actor message) is what orders the accesses.
package mem
