package domain

import (
	"slices"
	"time"
)

// Lockout that cannot be turned into a weapon (OWASP Authentication Cheat
// Sheet): failed logins lock the address they came from out of the account,
// not the account itself, so an attacker who knows a username cannot lock
// its owner out. A distributed attack from many addresses is slowed by an
// account-wide ceiling: once the account has seen AccountThreshold wrong
// passwords within AccountWindow, any address with a recent failure is
// locked after a single one, while an address with no recent failure may
// still try, so the owner's correct password from a clean address always
// works.
//
// The facts (which address failed when) are folded from LoginFailed and
// LoginSucceeded events, so every replica agrees; the policy is applied at
// decision time. What the fold keeps is bounded: at most
// maxTrackedAddresses addresses (the least recent is forgotten first) and
// maxAccountFailures failure times, and nothing older than loginMemory.

// LockoutPolicy decides when failed logins lock an address out of an
// account: Base after Threshold consecutive failures from that address,
// doubling with each further failure, capped at Max.
type LockoutPolicy struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
	// AccountThreshold wrong passwords within AccountWindow, from any
	// addresses, lower the per-address threshold to one (0: no ceiling).
	AccountThreshold int
	AccountWindow    time.Duration
}

// Defaults of LockoutPolicy.
const (
	DefaultLockoutThreshold        = 5
	DefaultLockoutAccountThreshold = 20
	DefaultLockoutAccountWindow    = time.Hour
)

// Bounds of what a user's login history keeps.
const (
	// loginMemory is how long a failure is remembered at all; a
	// LockoutPolicy's windows cannot reach further back.
	loginMemory         = 24 * time.Hour
	maxTrackedAddresses = 100
	maxAccountFailures  = 100
)

// MaxLockoutAccountWindow and MaxLockoutAccountThreshold are the largest
// ceiling settings the bounded history can honour.
const (
	MaxLockoutAccountWindow    = loginMemory
	MaxLockoutAccountThreshold = maxAccountFailures
)

// DefaultLockoutPolicy locks an address after 5 failures for 1 minute, up to
// 1 hour; 20 wrong passwords within an hour lower that to one failure.
func DefaultLockoutPolicy() LockoutPolicy {
	return LockoutPolicy{
		Threshold: DefaultLockoutThreshold, Base: time.Minute, Max: time.Hour,
		AccountThreshold: DefaultLockoutAccountThreshold, AccountWindow: DefaultLockoutAccountWindow,
	}
}

// addressFailures is the current streak of one client address.
type addressFailures struct {
	Address string    `json:"address"`
	Count   int       `json:"count"`
	Last    time.Time `json:"last"`
}

// LoginFailures is the folded login history of one account (a user, or an
// unknown username's loginattempt stream).
type LoginFailures struct {
	Addresses []addressFailures `json:"addresses,omitempty"`
	// Recent are the times of the latest wrong passwords from any address,
	// oldest first.
	Recent []time.Time `json:"recent,omitempty"`
}

// countsTowardCeiling: only attempts that tested a password are guesses;
// attempts refused because the address was locked or the account disabled
// tested nothing.
func countsTowardCeiling(reason string) bool {
	return reason == LoginFailBadPassword || reason == LoginFailUnknownUser
}

func (f *LoginFailures) recordFailure(address, reason string, at time.Time) {
	f.forgetBefore(at.Add(-loginMemory))
	i := slices.IndexFunc(f.Addresses, func(a addressFailures) bool { return a.Address == address })
	if i < 0 {
		if len(f.Addresses) >= maxTrackedAddresses {
			oldest := 0
			for k, a := range f.Addresses {
				if a.Last.Before(f.Addresses[oldest].Last) {
					oldest = k
				}
			}
			f.Addresses = slices.Delete(f.Addresses, oldest, oldest+1)
		}
		f.Addresses = append(f.Addresses, addressFailures{Address: address})
		i = len(f.Addresses) - 1
	}
	f.Addresses[i].Count++
	f.Addresses[i].Last = at
	if countsTowardCeiling(reason) {
		f.Recent = append(f.Recent, at)
		if len(f.Recent) > maxAccountFailures {
			f.Recent = slices.Delete(f.Recent, 0, len(f.Recent)-maxAccountFailures)
		}
	}
}

// recordSuccess ends the streak of the address that logged in. The
// account-wide failures stay: the owner's success says nothing about the
// other addresses still guessing.
func (f *LoginFailures) recordSuccess(address string) {
	f.Addresses = slices.DeleteFunc(f.Addresses, func(a addressFailures) bool { return a.Address == address })
}

func (f *LoginFailures) reset() { *f = LoginFailures{} }

func (f *LoginFailures) forgetBefore(t time.Time) {
	f.Addresses = slices.DeleteFunc(f.Addresses, func(a addressFailures) bool { return a.Last.Before(t) })
	keep := 0
	for keep < len(f.Recent) && f.Recent[keep].Before(t) {
		keep++
	}
	f.Recent = slices.Delete(f.Recent, 0, keep)
}

// Failures is the current streak of address (0 once forgotten).
func (f LoginFailures) Failures(address string, now time.Time) int {
	for _, a := range f.Addresses {
		if a.Address == address && !a.Last.Before(now.Add(-loginMemory)) {
			return a.Count
		}
	}
	return 0
}

// AtCeiling reports whether the account has seen p.AccountThreshold wrong
// passwords within p.AccountWindow before now.
func (f LoginFailures) AtCeiling(p LockoutPolicy, now time.Time) bool {
	if p.AccountThreshold <= 0 {
		return false
	}
	window := min(p.AccountWindow, loginMemory)
	n := 0
	for _, t := range f.Recent {
		if !t.Before(now.Add(-window)) {
			n++
		}
	}
	return n >= p.AccountThreshold
}

// LockedUntil is when address may try this account again; the zero time
// means it may try now. An address with no recent failure is never locked.
func (f LoginFailures) LockedUntil(p LockoutPolicy, address string, now time.Time) time.Time {
	if p.Threshold <= 0 {
		return time.Time{}
	}
	count := f.Failures(address, now)
	if count == 0 {
		return time.Time{}
	}
	threshold := p.Threshold
	if f.AtCeiling(p, now) {
		threshold = 1
	}
	if count < threshold {
		return time.Time{}
	}
	d := p.Base
	for i := threshold; i < count && d < p.Max; i++ {
		d *= 2
	}
	var last time.Time
	for _, a := range f.Addresses {
		if a.Address == address {
			last = a.Last
		}
	}
	return last.Add(min(d, p.Max))
}

// FoldLoginAttempts folds a loginattempt stream (failed logins for a
// username that does not exist) into the same history a user keeps, so an
// unknown username locks exactly as a real one.
func FoldLoginAttempts(events []RecordedEvent) (LoginFailures, error) {
	var f LoginFailures
	for _, ev := range events {
		if ev.Type != EventLoginFailed {
			continue
		}
		payload, err := userRegistry().decode(ev)
		if err != nil {
			return LoginFailures{}, WrapError(EINTERNAL, "cannot read a failed login", err)
		}
		if e, ok := payload.(LoginFailed); ok {
			f.recordFailure(e.Address, e.Reason, e.At)
		}
	}
	return f, nil
}

// NewLoginAttemptFailed is the event a loginattempt stream records.
func NewLoginAttemptFailed(reason, address string, at time.Time, md Metadata) (NewEvent, error) {
	switch reason {
	case LoginFailUnknownUser, LoginFailLocked:
	default:
		return NewEvent{}, Errorf(EINVALID, "unknown login failure reason")
	}
	k, data, err := userRegistry().encode(LoginFailed{Reason: reason, Address: address, At: at.UTC()})
	if err != nil {
		return NewEvent{}, WrapError(EINTERNAL, "cannot record a failed login", err)
	}
	return NewEvent{ID: NewID(), Type: k.name, SchemaVersion: k.version, Data: data, Metadata: md}, nil
}
