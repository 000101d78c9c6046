// Package task is STARK's structured concurrency: every goroutine it starts
// has an owner that waits for it, and cancellation flows from owners to what
// they own, never the other way.
//
// The pieces:
//
//   - Token: a cancellation token with child tokens, for code that has no
//     context at hand (the C ABI hands tokens out as handles). It bridges to
//     and from context.Context.
//   - Scope: a group of child goroutines. Wait returns only after every child
//     returned; the first error cancels the siblings; a panic in a child
//     becomes a *PanicError instead of a crash.
//   - Join, TryJoin, Select, Timeout: generic one-call forms of the common
//     shapes. Each waits for every function it started before returning.
//   - BlockingPool: a bounded pool for work that blocks an OS thread (system
//     calls, C calls, file I/O), so it does not occupy scheduler workers.
//   - Map, MapErr, ForEach, Range: data-parallel loops over a slice, run in
//     chunks on an Executor (the runtime's work-stealing scheduler, or
//     GoExecutor in tests and plain Go programs).
//
// # Data-parallel loops
//
// A loop is split into chunks that participants claim through one atomic
// counter. The calling goroutine is always a participant, and only a few
// helper tasks (about one per executor worker, not one per chunk) are
// submitted. So a loop started from inside a scheduler worker cannot deadlock
// even when every other worker is busy or the executor never runs the
// helpers: the caller simply claims every chunk itself. Cancellation and the
// first error stop the claiming of new chunks; chunks already running finish,
// and the loop returns only after they have.
//
// # Costs
//
// Scope.Go and the join helpers cost one goroutine per function (a few
// hundred nanoseconds and about 2 KiB of stack while it runs). A loop costs
// one atomic add per chunk plus one executor submission per helper. Map,
// MapErr and ForEach also pay an indirect call per element (a few
// nanoseconds), which dominates when the work per element is a multiply;
// for such loops use Range and write the per-chunk loop out, which the
// compiler can then optimise. A Token costs one small allocation, plus a map
// entry in its parent while both live.
//
// No function in this package starts a goroutine the caller did not ask for,
// and none keeps one after it returns, with one documented exception: an
// idle BlockingPool keeps its workers for its idle timeout, then lets them go.
package task
