// Package supervise is STARK's supervision: OTP-style supervisors, restart
// intensity, backoff, circuit breakers.
package supervise
