// Package identity is the domain of the marketplace's identity service: every
// flow (phone codes, captchas, registration, sessions, certification, reviews)
// lives here exactly once. The GraphQL resolvers and the legacy REST shim only
// decode a request, make one call to Service and encode the result.
package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/carcity/identity/ent"
)

// Config holds the policy numbers. Zero values take the defaults below.
type Config struct {
	CodeTTL       time.Duration // SMS code lifetime (5m)
	CodeAttempts  int           // verify attempts per code (5)
	SendCooldown  time.Duration // between two codes for one phone (60s)
	SendPerHour   int           // codes per phone per hour (5)
	SendPerDay    int           // codes per phone per day (10)
	SendPerClient int           // codes per openId/deviceId per hour (10)
	// SendPerIP is the number of codes per client IP per hour past which a
	// captcha answer is required (carriers put many users behind one IP).
	SendPerIP int

	CaptchaTTL      time.Duration // (5m)
	CaptchaLength   int           // digits (4)
	CaptchaTestCode string        // every captcha's answer; tests only

	// TestOTP maps phones to fixed codes (app-store review accounts); no SMS
	// is sent to them. Ignored after TestOTPValidUntil when that is set.
	TestOTP           map[string]string
	TestOTPValidUntil time.Time

	SessionTTL  time.Duration // absolute session lifetime (30 days)
	SessionIdle time.Duration // idle expiry (7 days)
	// SessionCacheTTL is how long a replica trusts a session it looked up
	// (2s; negative: no cache). A session revoked on another replica may be
	// accepted here for that long.
	SessionCacheTTL time.Duration

	LoginFailures      int           // failed logins per phone per window before a wait (5)
	LoginFailureWindow time.Duration // (15m)
	LoginPerIP         int           // failed logins per IP per window (100)

	Password       PasswordParams
	MaxUploadBytes int64         // (5 MiB)
	MaxImagePixels int           // decoded size limit against decompression bombs (40 Mpx)
	PrivateURLTTL  time.Duration // lifetime of signed URLs of ID photos (10m)
	PublicURL      string        // base of returned URLs; empty: from the request
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&c.CodeTTL, 5*time.Minute)
	defInt(&c.CodeAttempts, 5)
	def(&c.SendCooldown, time.Minute)
	defInt(&c.SendPerHour, 5)
	defInt(&c.SendPerDay, 10)
	defInt(&c.SendPerClient, 10)
	defInt(&c.SendPerIP, 200)
	def(&c.CaptchaTTL, 5*time.Minute)
	defInt(&c.CaptchaLength, 4)
	def(&c.SessionTTL, 30*24*time.Hour)
	def(&c.SessionIdle, 7*24*time.Hour)
	def(&c.SessionCacheTTL, 2*time.Second)
	defInt(&c.LoginFailures, 5)
	def(&c.LoginFailureWindow, 15*time.Minute)
	defInt(&c.LoginPerIP, 100)
	if c.Password == (PasswordParams{}) {
		c.Password = DefaultPasswordParams
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = 5 << 20
	}
	defInt(&c.MaxImagePixels, 40_000_000)
	def(&c.PrivateURLTTL, 10*time.Minute)
	return c
}

// Deps are the adapters the service runs on.
type Deps struct {
	DB *ent.Client
	// Codes keeps SMS codes, captcha answers and rate-limit logs.
	Codes CodeStore
	Cache Cache
	Blobs BlobStore
	SMS   SMSSender
	Vault *Vault
	// WeChat enables server-side mini-program login; nil: openIds come from
	// the client (legacy).
	WeChat WeChat
	// Secret keys the hashes of codes, captcha answers and session tokens.
	Secret []byte
	Logger *slog.Logger
	Now    func() time.Time // injectable clock; nil is time.Now
}

// Service runs every identity flow.
type Service struct {
	db        *ent.Client
	codes     CodeStore
	cache     Cache
	blobs     BlobStore
	sms       SMSSender
	vault     *Vault
	wechat    WeChat
	secret    []byte
	macs      sync.Pool // HMAC-SHA256 hashers keyed with secret
	log       *slog.Logger
	now       func() time.Time
	cfg       Config
	dummyHash string
	sessions  *sessionCache
}

// New wires a service. Every dependency is required.
func New(deps Deps, cfg Config) (*Service, error) {
	if deps.DB == nil || deps.Codes == nil || deps.Cache == nil ||
		deps.Blobs == nil || deps.SMS == nil || deps.Vault == nil {
		return nil, fmt.Errorf("identity: missing dependency")
	}
	if len(deps.Secret) < 32 {
		return nil, fmt.Errorf("identity: secret must be at least 32 bytes")
	}
	s := &Service{
		db:     deps.DB,
		codes:  deps.Codes,
		cache:  deps.Cache,
		blobs:  deps.Blobs,
		sms:    deps.SMS,
		vault:  deps.Vault,
		wechat: deps.WeChat,
		secret: deps.Secret,
		log:    deps.Logger,
		now:    deps.Now,
		cfg:    cfg.withDefaults(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.macs.New = func() any { return hmac.New(sha256.New, s.secret) }
	s.sessions = newSessionCache(s.cfg.SessionCacheTTL)
	// Unknown phones are checked against this hash so that they cost the
	// same time as a wrong password.
	dummy, err := hashPassword(randomHex(16), s.cfg.Password)
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	return s, nil
}

// DB is the ent client, for the generic admin queries of the GraphQL layer.
func (s *Service) DB() *ent.Client { return s.db }

// inTx runs fn in a transaction, joining the one in ctx if there is one.
// Constraint violations become conflicts. Functions given to onCommit run
// after the outermost commit.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, db *ent.Client) error) error {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return fn(ctx, tx.Client())
	}
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return Wrap(CodeUnavailable, fmt.Errorf("beginning transaction: %w", err))
	}
	hooks := &commitHooks{}
	txCtx := context.WithValue(ent.NewTxContext(ctx, tx), commitHooksKey{}, hooks)
	if err := fn(txCtx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return dbError(err)
	}
	if err := tx.Commit(); err != nil {
		return dbError(fmt.Errorf("committing: %w", err))
	}
	for _, f := range hooks.fns {
		f()
	}
	return nil
}

type commitHooks struct{ fns []func() }

type commitHooksKey struct{}

// onCommit runs f once the current transaction has committed (at once when
// there is none), e.g. to drop cache entries the transaction made stale.
func onCommit(ctx context.Context, f func()) {
	if h, ok := ctx.Value(commitHooksKey{}).(*commitHooks); ok {
		h.fns = append(h.fns, f)
		return
	}
	f()
}

// dbError keeps catalogue errors and classifies the rest: an unreachable
// database is unavailable (the client may retry), not internal.
func dbError(err error) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	var netErr net.Error
	var state interface{ SQLState() string }
	switch {
	case ent.IsConstraintError(err):
		return Wrap(CodeConflict, err)
	case ent.IsNotFound(err):
		return Wrap(CodeNotFound, err)
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.As(err, &netErr),
		errors.As(err, &state) && unavailableState(state.SQLState()):
		return Wrap(CodeUnavailable, err)
	}
	return Wrap(CodeOf(err), err)
}

// unavailableState: connection exceptions (08) and operator intervention such
// as a server shutting down (57P).
func unavailableState(code string) bool {
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P")
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// keyed is the HMAC-SHA256 under the service secret of parts joined by zero
// bytes. Hashers are pooled: a new one costs two SHA-256 blocks for its key.
func (s *Service) keyed(parts ...string) []byte {
	m := s.macs.Get().(hash.Hash)
	defer s.macs.Put(m)
	m.Reset()
	for i, p := range parts {
		if i > 0 {
			m.Write([]byte{0})
		}
		_, _ = io.WriteString(m, p)
	}
	return m.Sum(nil)
}
