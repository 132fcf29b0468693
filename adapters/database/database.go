// Package database opens the ent client on the embedded SQLite database or
// on Postgres, and brings its schema up to date.
package database

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"  // registers "postgres"
	_ "modernc.org/sqlite" // registers "sqlite" (pure Go)

	"github.com/carcity/identity/ent"
	_ "github.com/carcity/identity/ent/runtime" // defaults and hooks of the schema
)

// Options size the connection pool.
type Options struct {
	MaxOpenConns int // Postgres pool size (default 20)
	MaxIdleConns int // (default MaxOpenConns)
}

// DB is an open database.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
}

// Close closes the pool.
func (db *DB) Close() error { return db.Client.Close() }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Open connects to databaseURL: "postgres://…" (or "postgresql://…") for
// Postgres; empty for SQLite at dataDir/identity.db; "sqlite:<path>" for a
// SQLite file elsewhere.
func Open(databaseURL, dataDir string, opts Options) (*DB, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(databaseURL, opts)
	case databaseURL == "":
		return OpenSQLite(filepath.Join(dataDir, "identity.db"))
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return OpenSQLite(strings.TrimPrefix(databaseURL, "sqlite:"))
	}
	return nil, fmt.Errorf("unsupported DATABASE_URL scheme (want postgres:// or sqlite:)")
}

// OpenSQLite opens (creating) a SQLite file. Write transactions take the
// lock when they begin (_txlock=immediate) and wait for it (busy_timeout), so
// SQLite's single writer queues requests instead of failing them.
func OpenSQLite(path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	drv := entsql.OpenDB(dialect.SQLite, db)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dialect.SQLite}, nil
}

func openPostgres(dsn string, opts Options) (*DB, error) {
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 20
	}
	if opts.MaxIdleConns == 0 {
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	dsn, err := withBinaryParameters(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	// Recycle connections so a restarted server is picked up again cleanly.
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	drv := entsql.OpenDB(dialect.Postgres, db)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dialect.Postgres}, nil
}

// Migrate brings the schema up to date: on Postgres by applying the
// versioned migrations of ent/migrate/migrations (see migrate.go); on the
// embedded SQLite database by ent's auto migration, as there is a single
// process and no operator to review migration files.
func (db *DB) Migrate(ctx context.Context) error {
	if db.Dialect == dialect.Postgres {
		return db.migratePostgres(ctx)
	}
	if err := db.Client.Schema.Create(ctx); err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	return nil
}

// withBinaryParameters makes lib/pq send a query and its arguments in one
// round trip instead of two (prepare, then execute), unless the DSN says
// otherwise.
func withBinaryParameters(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL is not a URL")
	}
	q := u.Query()
	if q.Get("binary_parameters") == "" {
		q.Set("binary_parameters", "yes")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
