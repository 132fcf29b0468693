package identity

import (
	"context"
	"errors"
	"io"
	"time"
)

// CheckMode says what a successful challenge check does to the challenge.
type CheckMode int

const (
	// Verify marks a pending challenge as verified; it succeeds once. A
	// verified challenge can still be consumed once, which is how "verify the
	// code, then register repeating it" works without a code ever being
	// accepted twice by the same kind of call.
	Verify CheckMode = iota + 1
	// Consume deletes a pending or verified challenge.
	Consume
)

// CheckResult is the outcome of a challenge check.
type CheckResult int

const (
	// Accepted: the answer matched; the challenge moved on as the mode says.
	Accepted CheckResult = iota + 1
	// Mismatch: the answer was wrong; one attempt was counted and the
	// challenge was deleted if that was the last one.
	Mismatch
	// Missing: no challenge (never issued, expired, used up or already
	// verified when the mode is Verify).
	Missing
)

// ChallengeStore keeps the short-lived secrets a user must repeat back: SMS
// codes and captcha answers, as keyed digests. Implementations must make Put
// and Check atomic per key, across every replica that shares the store: two
// concurrent Checks of the same challenge never both return Accepted in the
// same mode, and attempts are never lost.
type ChallengeStore interface {
	// Put stores digest under key for ttl, replacing any earlier challenge
	// and its attempt count.
	Put(ctx context.Context, key string, digest []byte, ttl time.Duration) error
	// Check compares digest with the stored one. A mismatch counts an
	// attempt; at maxAttempts the challenge is deleted.
	Check(ctx context.Context, key string, digest []byte, mode CheckMode, maxAttempts int) (CheckResult, error)
}

// Limit is one rate-limit rule: at most Max events per sliding Window.
// Limits on the same Key count the same events, each over its own Window
// (one log serves a phone's cool-down, hourly and daily caps).
type Limit struct {
	Key    string
	Max    int
	Window time.Duration
}

// RateLimiter counts events in sliding windows. Take is atomic across all the
// limits it is given and across replicas: either every limit has room and the
// event is recorded under each of them, or nothing is recorded.
// Callers pass limits whose keys share a Redis hash tag.
type RateLimiter interface {
	// Take records event id under every limit if all have room. Otherwise it
	// records nothing and returns how long until the fullest one has room.
	Take(ctx context.Context, id string, limits ...Limit) (retryAfter time.Duration, err error)
	// Refund removes event id from every limit, as if it had not happened.
	Refund(ctx context.Context, id string, limits ...Limit) error
}

// CodeStore keeps challenges together with the rate limits that guard
// them, so that a send can spend its budgets and store its code in one step
// (one Redis round trip).
type CodeStore interface {
	ChallengeStore
	RateLimiter
	// PutIfRoom takes each group of limits as Take does, each group on its
	// own (retryAfter[i] is group i's answer), and, when every group has
	// room, puts the challenge as Put does, atomically with the takes where
	// the store can (one round trip on Redis).
	PutIfRoom(ctx context.Context, id string, groups [][]Limit, key string, digest []byte, ttl time.Duration) (retryAfter []time.Duration, err error)
}

// Cache is a shared key-value store for short-lived values (captcha images,
// provider access tokens).
type Cache interface {
	// Get returns the value, or found=false when it is absent or expired.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// ErrBlobNotFound is returned by BlobStore.Open for a missing object.
var ErrBlobNotFound = errors.New("blob not found")

// BlobStore keeps uploaded files. Keys starting with "public/" may be served
// to anyone; every other key is private and only reachable through a
// short-lived signed URL.
type BlobStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Open returns the object and its content type, or ErrBlobNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, string, error)
	// URL is where a client fetches key: permanent for public keys, valid
	// until expires for private ones. baseURL is the service's public base
	// (for stores the service serves itself).
	URL(ctx context.Context, baseURL, key string, expires time.Time) (string, error)
	// KeyFromURL recovers the key from a URL that URL returned (signature
	// and expiry are not checked: ownership is, by the caller).
	KeyFromURL(rawURL string) (key string, ok bool)
}

// SMS is one message to a phone.
type SMS struct {
	Telephone string
	// Purpose names the template: "code" messages carry Code; "notice"
	// messages tell the owner of an account about a change.
	Purpose string
	Code    string
}

// SMS purposes.
const (
	SMSPurposeCode   = "code"
	SMSPurposeNotice = "notice"
)

// SMSSender delivers SMS. Send is not retried by the caller: providers are
// not idempotent. It returns the provider's message id, for the audit trail.
type SMSSender interface {
	Send(ctx context.Context, msg SMS) (messageID string, err error)
}

// Pinger is implemented by adapters whose reachability /readyz reports.
type Pinger interface {
	Ping(ctx context.Context) error
}

// WeChatSession is who signed in to the mini-program.
type WeChatSession struct {
	OpenID  string
	UnionID string // empty unless the app is bound to an Open Platform account
}

// WeChat is the mini-program's server API.
type WeChat interface {
	// Code2Session exchanges a wx.login code for the user's openId.
	Code2Session(ctx context.Context, jsCode string) (WeChatSession, error)
	// PhoneNumber exchanges a getPhoneNumber button code for the phone
	// WeChat has verified.
	PhoneNumber(ctx context.Context, code string) (string, error)
}
