package identitytest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"

	"github.com/carcity/identity/adapters/database"
	"github.com/carcity/identity/adapters/localfs"
	"github.com/carcity/identity/adapters/memory"
	"github.com/carcity/identity/adapters/redis"
	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/identity"
)

// Harness is a service on real adapters: SQLite in a temporary directory
// (or a fresh Postgres database when TEST_DATABASE_URL is set), in-process
// stores (or Redis when TEST_REDIS_URL is set), local files, and an SMS
// outbox instead of a provider.
type Harness struct {
	Service    *identity.Service
	DB         *ent.Client
	SQL        *sql.DB
	Clock      *Clock
	SMS        *Outbox
	Files      http.Handler // serves /files/ of the local blob store
	statements atomic.Int64
	// StoresFollowClock is false when the short-lived stores keep real
	// time (Redis), so tests that expire codes must skip that part.
	StoresFollowClock bool
}

// Statements is the number of SQL statements run so far.
func (h *Harness) Statements() int64 { return h.statements.Load() }

// Option changes the harness' service configuration.
type Option func(*identity.Config)

// WithConfig changes the service configuration.
func WithConfig(f func(*identity.Config)) Option { return Option(f) }

// Secret is the harness' service secret.
var Secret = []byte("test-secret-test-secret-test-secret-0123")

// NewService returns a harness; everything is cleaned up with t.
func NewService(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	return NewServiceWithDeps(t, nil, opts...)
}

// NewServiceWithDeps is NewService with a hook that changes the adapters
// (for instance to add a fake WeChat).
func NewServiceWithDeps(t testing.TB, changeDeps func(*Harness, *identity.Deps), opts ...Option) *Harness {
	t.Helper()
	h := &Harness{Clock: NewClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)), SMS: &Outbox{}, StoresFollowClock: true}

	db := openTestDB(t)
	h.SQL = db.SQL
	// Same pool, with every statement counted (Statements).
	h.DB = ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(context.Context, ...any) {
		h.statements.Add(1)
	})))

	var (
		codes identity.CodeStore
		cache identity.Cache
	)
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		client, err := redis.Open(u)
		if err != nil {
			failOrSkip(t, "TEST_REDIS_URL", err)
		}
		t.Cleanup(client.Close)
		store := redis.New(client, "test:"+randomName()+":")
		if err := store.Ping(context.Background()); err != nil {
			failOrSkip(t, "TEST_REDIS_URL", err)
		}
		codes, cache = store, store
		h.StoresFollowClock = false
	} else {
		mem := memory.New(h.Clock.Now)
		codes, cache = mem, mem
	}

	files, err := localfs.New(filepath.Join(t.TempDir(), "uploads"), []byte("file-signing-key-for-tests-000000"))
	if err != nil {
		t.Fatal(err)
	}
	h.Files = files.Handler(h.Clock.Now)

	vault, err := identity.NewVault("test", []byte("0123456789abcdef0123456789abcdef"), []byte("index-key-index-key-index-key-000"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := identity.Config{
		// Cheap hashes: the production parameters cost ~100 ms each.
		Password: identity.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1},
	}
	for _, o := range opts {
		o(&cfg)
	}
	deps := identity.Deps{
		DB:     h.DB,
		Codes:  codes,
		Cache:  cache,
		Blobs:  files,
		SMS:    h.SMS,
		Vault:  vault,
		Secret: Secret,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Now:    h.Clock.Now,
	}
	if changeDeps != nil {
		changeDeps(h, &deps)
	}
	h.Service, err = identity.New(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// openTestDB opens a migrated database for one test.
func openTestDB(t testing.TB) *database.DB {
	t.Helper()
	ctx := context.Background()
	if admin := os.Getenv("TEST_DATABASE_URL"); admin != "" {
		name := "idtest_" + randomName()
		adminDB, err := sql.Open("postgres", admin)
		if err == nil {
			_, err = adminDB.ExecContext(ctx, "CREATE DATABASE "+name)
		}
		if err != nil {
			failOrSkip(t, "TEST_DATABASE_URL", err)
		}
		u, err := url.Parse(admin)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		db, err := database.Open(u.String(), "", database.Options{MaxOpenConns: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			db.Close()
			_, _ = adminDB.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			adminDB.Close()
		})
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	db, err := database.OpenSQLite(filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// failOrSkip fails under CI (the real servers must be there) and skips on a
// newcomer's machine.
func failOrSkip(t testing.TB, env string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is set but unreachable: %v", env, err)
	}
	t.Skipf("%s unreachable: %v", env, err)
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Clock is a settable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Outbox records SMS instead of sending them. Fail makes the next sends fail.
type Outbox struct {
	mu   sync.Mutex
	sent []identity.SMS
	Fail error
}

var _ identity.SMSSender = (*Outbox)(nil)

// Send records msg.
func (o *Outbox) Send(_ context.Context, msg identity.SMS) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Fail != nil {
		return "", o.Fail
	}
	o.sent = append(o.sent, msg)
	return fmt.Sprintf("msg-%d", len(o.sent)), nil
}

// Sent returns every message so far.
func (o *Outbox) Sent() []identity.SMS {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]identity.SMS(nil), o.sent...)
}

// LastCode is the last code sent to phone, or fails the test.
func (o *Outbox) LastCode(t testing.TB, phone string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.sent) - 1; i >= 0; i-- {
		if o.sent[i].Telephone == phone && o.sent[i].Purpose == identity.SMSPurposeCode {
			return o.sent[i].Code
		}
	}
	t.Fatalf("no code was sent to %s", phone)
	return ""
}

// InProcessStores keeps the short-lived stores in process even when
// TEST_REDIS_URL is set, for suites that move the clock past rate-limit
// windows and code expiry (the store contracts run on Redis separately).
func InProcessStores(h *Harness, d *identity.Deps) {
	mem := memory.New(h.Clock.Now)
	d.Codes, d.Cache = mem, mem
	h.StoresFollowClock = true
}
